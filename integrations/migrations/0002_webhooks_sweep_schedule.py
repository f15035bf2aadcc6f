from django.db import migrations

SCHEDULE = [("Webhooks sweep", "integrations.tasks.webhooks_sweep_task", 60)]


def install(apps, schema_editor):
    from mqaflow.schedules import schedules_install

    schedules_install(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_webhooks_outbox"),
        ("mqaflow", "0003_periodic_tasks"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
