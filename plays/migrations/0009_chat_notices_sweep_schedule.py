from django.db import migrations

SCHEDULE = [("Chat notices sweep", "plays.tasks.chat_notices_sweep_task", 60)]


def install(apps, schema_editor):
    from mqaflow.schedules import schedules_install

    schedules_install(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("plays", "0008_notification_preferences_and_chat"),
        ("mqaflow", "0003_periodic_tasks"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
