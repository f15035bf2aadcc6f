"""One list of periodic tasks (config/schedules.py) and the data migrations' frozen copies
of it agree: a new database gets exactly the tasks `schedules_install` installs."""

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.schedules import CRONTAB_TASKS, PERIODIC_TASKS, schedules_install

pytestmark = pytest.mark.django_db

# Every data migration that installs periodic tasks.
SCHEDULE_MIGRATIONS = [
    "mqaflow.migrations.0003_periodic_tasks",
    "plays.migrations.0002_defaults",
    "plays.migrations.0009_chat_notices_sweep_schedule",
    "integrations.migrations.0002_webhooks_sweep_schedule",
]


def installed() -> set[tuple[str, str, int]]:
    return {
        (t.name, t.task, t.interval.every)
        for t in PeriodicTask.objects.select_related("interval")
        if t.interval is not None and t.interval.period == "seconds" and t.enabled
    }


def test_the_migrations_install_the_periodic_tasks_of_schedules_install():
    PeriodicTask.objects.all().delete()
    IntervalSchedule.objects.all().delete()
    for module in SCHEDULE_MIGRATIONS:
        importlib.import_module(module).install(apps, None)
    assert installed() == set(PERIODIC_TASKS)


def test_schedules_install_creates_what_is_missing_and_keeps_an_admins_edit():
    PeriodicTask.objects.all().delete()
    assert schedules_install() == [name for name, _, _ in PERIODIC_TASKS + CRONTAB_TASKS]
    assert installed() == set(PERIODIC_TASKS)
    slower, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    sweep_name = PERIODIC_TASKS[2][0]
    PeriodicTask.objects.filter(name=sweep_name).update(interval=slower, enabled=False)
    PeriodicTask.objects.filter(name="Webhooks sweep").delete()
    assert schedules_install() == ["Webhooks sweep"]
    sweep = PeriodicTask.objects.get(name=sweep_name)
    assert (sweep.interval_id, sweep.enabled) == (slower.pk, False)


def test_every_migrate_installs_a_periodic_task_that_is_missing():
    PeriodicTask.objects.filter(name="Webhooks sweep").delete()
    call_command("migrate", verbosity=0)
    assert installed() == set(PERIODIC_TASKS)


def test_the_weekly_digest_runs_on_monday_at_eight_in_the_time_zone(settings):
    task = PeriodicTask.objects.select_related("crontab").get(name="Weekly tuning digest")
    assert task.task == "tuning.digest_tasks.digest_send" and task.enabled
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week) == ("0", "8", "1")
    assert str(cron.timezone) == settings.TIME_ZONE
