"""Logging and error mail.

Server errors are mailed to ADMINS (when set), at most one mail per distinct error per
interval, with secrets hidden; 4xx and django.security.* (oversized bodies, bad Host
headers) are only logged. See mqaflow/error_reporting.py.
"""

from config.env import env

DEFAULT_EXCEPTION_REPORTER_FILTER = "mqaflow.error_reporting.SecretsFilter"
MQAFLOW_ERROR_EMAIL_INTERVAL_SECONDS = env.int("ERROR_EMAIL_INTERVAL_SECONDS", default=600)
MQAFLOW_ERROR_EMAILS_PER_INTERVAL = env.int("ERROR_EMAILS_PER_INTERVAL", default=10)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "mqaflow.error_reporting.ThrottledAdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's default "django" logger (console when DEBUG, plain mail_admins);
        # records still propagate to the root console.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
