from django.db import migrations

# Frozen: the rows as they were when this migration was written; the live list is
# config/schedules.py (PERIODIC_TASKS), installed the same way by `schedules_install`.
SCHEDULE = [("Chat notices sweep", "plays.tasks.chat_notices_sweep_task", 60)]


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
        ("plays", "0008_notification_preferences_and_chat"),
        ("mqaflow", "0003_periodic_tasks"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
