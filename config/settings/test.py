"""Settings for the test suite: the production settings, with test-friendly defaults.

The suite runs against PostgreSQL (DATABASE_URL) like production; only what makes tests
fast and deterministic is changed here. Integration tests that start a real worker pass
their own environment to it and do not rely on the eager mode set below.
"""

import os

# Set before the production settings read the environment; processes the tests start
# inherit them too.
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")

from config.settings.production import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
SITE_URL = "http://testserver"
# Each test starts with an empty in-memory cache; the Redis outage tests
# (test_redis_outage.py, test_probe.py) switch to production's `redis_caches()` themselves.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"},
}
if os.environ.get("MQAFLOW_TEST_REAL_EMAIL"):
    # Worker processes started by the fault tests talk to the test's own SMTP server.
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
