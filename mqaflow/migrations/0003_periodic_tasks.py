from django.db import migrations


def install(apps, schema_editor):
    from mqaflow.schedules import schedules_install

    schedules_install(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("mqaflow", "0002_defaults"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
