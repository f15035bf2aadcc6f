"""Project configuration: settings, the Celery app, root URLs and WSGI; no domain code.

The Celery app is loaded with the settings so that `shared_task`s bind to it in every
process (web, worker, beat, management commands).
"""

from config.celery import app as celery_app

__all__ = ("celery_app",)
