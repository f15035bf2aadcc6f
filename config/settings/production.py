"""The settings of every real process, assembled from one module per concern.

Every default is chosen so that `make run` works on a fresh machine with nothing but
Python: SQLite for the database, kombu's filesystem transport as the Celery broker and
emails written to files under var/mail. Production points DATABASE_URL at PostgreSQL,
CELERY_BROKER_URL at Redis and EMAIL_URL at an SMTP server (see README.md).
"""

from config.settings.api import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.django import *  # noqa: F403
from config.settings.email import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
from config.settings.mqaflow import *  # noqa: F403
from config.settings.security import *  # noqa: F403
