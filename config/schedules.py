"""Every periodic task of the project, kept as code and upserted by name into
django-celery-beat by `schedules_install`, which runs after every `migrate` (config/apps.py):
a task added here reaches every database without a migration of its own. It lives in
config/ because it names the tasks of every app.

Interval schedules, not crontab: an interval cannot fire twice or skip across a DST change.
The exception is what must happen at a time of the week people expect (CRONTAB_TASKS, in
TIME_ZONE); such a task guards itself against a second run (the digest: once a week per
recipient, by a unique row).
Admins can still pause or retune them in Django admin; `schedules_install` only creates a
missing schedule and never overwrites an admin's edit of an existing one.

The data migrations that installed them before this module existed keep their own frozen
copy of the rows as they were then (tests/config/test_schedules.py checks the two agree).
"""

from __future__ import annotations

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

PERIODIC_TASKS = [
    # (name, task, every seconds); the names and tasks are rows in existing databases.
    ("Recompute all MQAs", "mqaflow.tasks.recompute_all", 15 * 60),
    ("Recompute accounts with new engagement (catch-up)", "mqaflow.tasks.recompute_pending", 60),
    # The sweep delivers every notice; its row keeps the name existing databases know it by.
    ("Escalation sweep", "plays.tasks.escalations_sweep_task", 60),  # compatibility: row name
    ("Chat notices sweep", "plays.tasks.chat_notices_sweep_task", 60),
    ("Webhooks sweep", "integrations.tasks.webhooks_sweep_task", 60),
]

CRONTAB_TASKS = [
    # (name, task, crontab fields), at those times in TIME_ZONE.
    (
        "Weekly tuning digest",
        "tuning.digest_tasks.digest_send",
        {"minute": "0", "hour": "8", "day_of_week": "1", "day_of_month": "*", "month_of_year": "*"},
    ),
]


def schedules_install() -> list[str]:
    """Create the interval schedules and periodic tasks that do not exist yet; returns the
    names of the tasks created."""
    created_names = []
    for name, task, seconds in PERIODIC_TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        _, created = PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
        if created:
            created_names.append(name)
    for name, task, fields in CRONTAB_TASKS:
        crontab, _ = CrontabSchedule.objects.get_or_create(timezone=settings.TIME_ZONE, **fields)
        _, created = PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True}
        )
        if created:
            created_names.append(name)
    return created_names
