"""Every periodic task of the project, kept as code and upserted by name into
django-celery-beat by `schedules_install`.

Interval schedules, not crontab: an interval cannot fire twice or skip across a DST change.
Admins can still pause or retune them in Django admin; `schedules_install` only creates a
missing schedule and never overwrites an admin's edit of an existing one.

A new database gets them from the data migrations, which keep their own frozen copy of the
rows as they were then (tests/config/test_schedules.py checks the two agree): a periodic
task added here needs a data migration too.
"""

from __future__ import annotations

from django_celery_beat.models import IntervalSchedule, PeriodicTask

PERIODIC_TASKS = [
    # (name, task, every seconds); the names and tasks are rows in existing databases.
    ("Recompute all MQAs", "mqaflow.tasks.recompute_all", 15 * 60),
    ("Recompute accounts with new engagement (catch-up)", "mqaflow.tasks.recompute_pending", 60),
    ("Escalation sweep", "plays.tasks.escalations_sweep_task", 60),
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
