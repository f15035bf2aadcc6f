"""Periodic tasks kept as code and upserted by name into django-celery-beat.

Interval schedules, not crontab: an interval cannot fire twice or skip across a DST change.
Admins can still pause or retune them in Django admin; `schedules_install` only creates a
missing schedule and never overwrites an admin's edit of an existing one.
"""

from __future__ import annotations

PERIODIC_TASKS = [
    # (name, task, every seconds)
    ("Recompute all MQAs", "mqaflow.tasks.recompute_all", 15 * 60),
    ("Recompute accounts with new engagement (catch-up)", "mqaflow.tasks.recompute_pending", 60),
]


def schedules_install(apps=None, tasks=PERIODIC_TASKS) -> None:
    """Create the interval schedules and periodic tasks that do not exist yet."""
    if apps is None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask
    else:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in tasks:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
