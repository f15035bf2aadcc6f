"""The periodic qualification jobs, as interval schedules in django-celery-beat. Only
missing rows are created; admins may pause or retune them afterwards."""

from django.db import migrations

# Frozen: the rows as they were when this migration was written; the live list is
# config/schedules.py (PERIODIC_TASKS), installed the same way by `schedules_install`.
SCHEDULE = [
    ("Recompute all MQAs", "mqaflow.tasks.recompute_all", 15 * 60),
    ("Recompute accounts with new engagement (catch-up)", "mqaflow.tasks.recompute_pending", 60),
]


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in SCHEDULE:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("mqaflow", "0002_defaults"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
