"""The test settings for the processes a test starts (workers, beats, gunicorn): tasks go
through the broker unless the environment asks for eager mode, so a beat publishes what a
worker runs, as in production. The suite's own eager default would run them inline."""

import os

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "0") == "1"
