"""The Celery application: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqaflow.settings")

app = Celery("mqaflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Run once when beat starts, not one interval later: a fresh `make run` (or a restarted
# beat) has a recompute, a catch-up and a sweep at once, so /health/ is green right away
# instead of reporting "has not run yet" for the first 15 minutes.
STARTUP_TASKS = (
    "mqaflow.tasks.recompute_all",
    "mqaflow.tasks.recompute_pending",
    "plays.tasks.escalations_sweep_task",
)


def run_startup_tasks(**kwargs) -> list:
    """Enqueue each periodic job once (exactly one beat runs, so this runs once)."""
    return [app.send_task(name) for name in STARTUP_TASKS]


beat_init.connect(run_startup_tasks, weak=False)
