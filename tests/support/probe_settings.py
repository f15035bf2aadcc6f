"""The production settings, plus two URLs that fail on purpose (tests/support/error_urls.py), for
`make probe`: a 500 in the real stack, to see what the admins receive."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.support.error_urls"
