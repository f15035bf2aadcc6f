"""Every periodic task of the project, kept as code and upserted by name into
django-celery-beat by `schedules_install`, which runs after every `migrate` (config/apps.py):
a task added here reaches every database without a migration of its own. It lives in
config/ because it names the tasks of every app.

Interval schedules, not crontab: an interval cannot fire twice or skip across a DST change.
Admins can still pause or retune them in Django admin; `schedules_install` only creates a
missing schedule and never overwrites an admin's edit of an existing one.

The data migrations that installed them before this module existed keep their own frozen
copy of the rows as they were then (tests/config/test_schedules.py checks the two agree).
"""

from __future__ import annotations

from django_celery_beat.models import IntervalSchedule, PeriodicTask

PERIODIC_TASKS = [
    # (name, task, every seconds); the names and tasks are rows in existing databases.
    ("Recompute all MQAs", "mqaflow.tasks.recompute_all", 15 * 60),
    ("Recompute accounts with new engagement (catch-up)", "mqaflow.tasks.recompute_pending", 60),
    # The sweep delivers every notice; its row keeps the name existing databases know it by.
    ("Escalation sweep", "plays.tasks.escalations_sweep_task", 60),  # compatibility: row name
    ("Chat notices sweep", "plays.tasks.chat_notices_sweep_task", 60),
    ("Webhooks sweep", "integrations.tasks.webhooks_sweep_task", 60),
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
    return created_names
