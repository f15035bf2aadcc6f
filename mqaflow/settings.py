"""Settings for mqaflow, read from the environment (12-factor) through django-environ.

Every default is chosen so that `make run` works on a fresh machine with nothing but
Python: SQLite for the database, kombu's filesystem transport as the Celery broker and
emails written to files under var/mail. Production points DATABASE_URL at PostgreSQL,
CELERY_BROKER_URL at Redis and EMAIL_URL at an SMTP server (see README.md).
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str(
    "SECRET_KEY", default="dev-insecure-change-me" if DEBUG else environ.Env.NOTSET
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "simple_history",
    "axes",
    "mqaflow",
    "plays",
    "integrations",
]

MIDDLEWARE = [
    "mqaflow.api.errors.ApiErrorMiddleware",  # outermost: JSON errors for every /api/ answer
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mqaflow.urls"
WSGI_APPLICATION = "mqaflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'mqaflow.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one file in development: WAL and IMMEDIATE transactions
    # keep them from tripping over each other's locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

# Large event batches (5,000 events) fit; anything far bigger is refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=8 * 1024 * 1024)

# --- Email ----------------------------------------------------------------------
_email_url = env.str("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail'}")
vars().update(env.email_url_config(_email_url))


def email_file_path(url: str, base: Path = BASE_DIR) -> str:
    """The folder of a filemail:// URL: filemail:///abs/path is absolute, filemail://var/mail
    is relative to the project (django-environ drops the leading slash of the first and
    splits the second at its host, so both used to land somewhere under the cwd)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = Path(parts.netloc + parts.path)
    return str(path if path.is_absolute() else base / path)


if _email_url.startswith("filemail:"):
    EMAIL_FILE_PATH = email_file_path(_email_url)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="mqaflow <mqaflow@localhost>")
# Django's default is no timeout: a hanging SMTP server would pin a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mqaflow.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "mqaflow.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "mqaflow.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "mqaflow.api.query.BoundedLimitOffsetPagination",
    "EXCEPTION_HANDLER": "mqaflow.api.errors.api_exception_handler",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
}

# API throttle counters must be shared by all web processes: Redis when there is one, else
# the local memory of the single development process. Login failures are counted in the
# database (django-axes). The Redis cache fails open (mqaflow/cache.py): while Redis is down
# requests are served without it, unthrottled, instead of failing.
REDIS_URL = env.str("REDIS_URL", default="")


def redis_caches(url: str) -> dict:
    """`CACHES` for a deployment with Redis; the outage tests use the very same."""
    timeouts = {"socket_connect_timeout": 1, "socket_timeout": 1}  # redis-py waits forever
    return {
        "default": {
            "BACKEND": "mqaflow.cache.FailOpenRedisCache",
            "LOCATION": url,
            "OPTIONS": timeouts,
        }
    }


CACHES = (
    redis_caches(REDIS_URL)
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

# Login throttling (django-axes): after 5 failures for a username from an IP, that pair is
# locked out for 15 minutes (HTTP 429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# "Bob@x.com" and "BOB@X.COM " count as one username (usernames are stored lower-case).
AXES_USERNAME_CALLABLE = "mqaflow.security.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
SPECTACULAR_SETTINGS = {
    "TITLE": "mqaflow API",
    "DESCRIPTION": "Push engagement in, read Marketing Qualified Accounts and plays out.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {"MQAStatusEnum": "mqaflow.models.choices.MQAStatus"},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Request bodies get their own components, so required text is minLength 1 there.
    "COMPONENT_SPLIT_REQUEST": True,
    # JSON is the documented body; form posts keep working but are not advertised.
    "PARSER_WHITELIST": ["mqaflow.api.parsers.LimitedJSONParser"],
    # Error responses, the events body and other facts the views cannot express: see there.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mqaflow.api.schema.postprocess",
    ],
}

# --- Celery -------------------------------------------------------------------------
# The reasons for each of these are in docs/decisions.md ("Celery settings").
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 60 * 60,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = 5 * 60
CELERY_TASK_TIME_LIMIT = 6 * 60
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True

# --- Logging and error mail -------------------------------------------------------------
# Server errors are mailed to ADMINS (when set), at most one mail per distinct error per
# interval, with secrets hidden; 4xx and django.security.* (oversized bodies, bad Host
# headers) are only logged. See mqaflow/error_reporting.py.
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

# --- Production hardening (active when DEBUG is off) -------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- mqaflow -------------------------------------------------------------------------
# How far in the future an event's timestamp may be (clock skew between systems).
MQAFLOW_EVENT_FUTURE_SKEW_SECONDS = env.int("MQAFLOW_EVENT_FUTURE_SKEW_SECONDS", default=300)
MQAFLOW_EVENT_BATCH_MAX = 5000
# Owners, accounts or contacts per bulk upsert request (all or nothing).
MQAFLOW_UPSERT_BATCH_MAX = 5000
# When a play is reassigned: "keep" the SLA clock running, or "restart" it from the
# reassignment (unsent reminder and escalation steps are re-planned).
MQAFLOW_REASSIGN_SLA_CLOCK = env.str("MQAFLOW_REASSIGN_SLA_CLOCK", default="keep")
# Who hears of escalations whose delivery is unknown (a worker died mid-send twice).
ADMINS = [("Admins", a) for a in env.list("ADMIN_EMAILS", default=[])]
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MQAFLOW_STALE_CLAIM_SECONDS = env.int("MQAFLOW_STALE_CLAIM_SECONDS", default=600)

# --- Outgoing webhooks (integrations/) ------------------------------------------------
# Seconds before a receiver that does not answer is given up on (and retried later).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Retries of timeouts, connection errors, 5xx, 408 and 429 stop after this many hours; an
# endpoint that failed for this long without a success is disabled and ADMIN_EMAILS told.
WEBHOOK_RETRY_HOURS = env.int("WEBHOOK_RETRY_HOURS", default=24)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600)
# A delivery claimed longer ago than this is taken to be stranded (its worker died).
WEBHOOK_STALE_CLAIM_SECONDS = env.int("WEBHOOK_STALE_CLAIM_SECONDS", default=300)
