"""The Celery application: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

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


def run_startup_tasks(**kwargs: Any) -> list[AsyncResult]:
    """Enqueue each periodic job once (exactly one beat runs, so this runs once)."""
    return [app.send_task(name) for name in STARTUP_TASKS]


beat_init.connect(run_startup_tasks, weak=False)

# The folders kombu's filesystem transport (`make run`'s broker) reads and writes.
FILESYSTEM_BROKER_FOLDERS = (
    "data_folder_in",
    "data_folder_out",
    "processed_folder",
    "control_folder",
)


def broker_folders_create(sender: Celery, source: Any, **kwargs: Any) -> list[Path]:
    """Create the filesystem broker's folders (the transport expects them to exist).

    Runs when the app reads its configuration, which every process using the broker does
    before its first message: the web process, the worker and beat. Importing settings
    alone creates nothing."""
    if not str(source.broker_url or "").startswith("filesystem://"):
        return []
    options = source.broker_transport_options or {}
    folders = [Path(options[key]) for key in FILESYSTEM_BROKER_FOLDERS if key in options]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


app.on_after_configure.connect(broker_folders_create, weak=False)
