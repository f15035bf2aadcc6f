"""Error mail to the admins that says what broke, without secrets and without floods.

Django mails the admins for every error logged under `django`: each 500, but also every
SuspiciousOperation (a POST over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host header), which
anyone can cause at will. And the mail prints the request's cookies and every setting
whose name does not look secret, such as the broker URL with its password. So:

- only server errors are mailed (5xx, or errors logged without a status); 4xx and the
  `django.security.*` loggers go to the logs only;
- one mail per distinct error (exception type and the line that raised it) per
  `MQAFLOW_ERROR_EMAIL_INTERVAL_SECONDS`, and at most `MQAFLOW_ERROR_EMAILS_PER_INTERVAL`
  mails in that time, counted in this process's memory (it must work when the database or
  Redis is what broke); the next mail says how many were held back;
- cookies, tokens, Authorization headers, passwords and session ids are hidden, and so is
  every setting or request header whose name mentions URL, BROKER, REDIS, DATABASE, EMAIL,
  SECRET, TOKEN, KEY or PASS; any `scheme://user:password@` left anywhere in the mail
  (exception texts, local variables) loses its credentials.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections import deque

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.template.defaultfilters import pprint
from django.utils.log import AdminEmailHandler
from django.views.debug import SafeExceptionReporterFilter

HIDDEN = re.compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|SESSION|CSRF|CREDENTIAL|DSN"
    "|URL|BROKER|REDIS|DATABASE|EMAIL",
    flags=re.IGNORECASE,
)
# scheme://user:password@host and scheme://token@host
CREDENTIALS_IN_URL = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<userinfo>[^\s/@'\"<>]+)@", re.IGNORECASE
)
MASK = "********************"


def scrub(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by stars."""
    return CREDENTIALS_IN_URL.sub(lambda m: f"{m['scheme']}{MASK}@", text)


class _Shown:
    """A value shown in the report as this text (already cleansed)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class SecretsFilter(SafeExceptionReporterFilter):
    """SafeExceptionReporterFilter that also hides URLs, brokers, cookies and credentials."""

    hidden_settings = HIDDEN

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        # Exactly str: lazy str subclasses stay as they are (send_mail scrubs the output).
        return scrub(cleansed) if type(cleansed) is str else cleansed

    def get_safe_cookies(self, request):
        if not hasattr(request, "COOKIES"):
            return {}
        return {name: self.cleansed_substitute for name in request.COOKIES}

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if not self.is_active(request) or not params:
            return params
        params = params.copy()
        for name in params:
            if HIDDEN.search(name):
                params[name] = self.cleansed_substitute
        return params

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        cleansed: list[tuple[str, object]] = []
        for name, value in variables:
            if isinstance(value, str) and value == self.cleansed_substitute:
                cleansed.append((name, value))
            elif HIDDEN.search(name):
                cleansed.append((name, self.cleansed_substitute))
            else:
                cleansed.append((name, _Shown(scrub(pprint(value)))))
        return cleansed


def _reportable(record) -> bool:
    """Server errors only: what a client can cause at will is not an admin's emergency."""
    if record.name.startswith("django.security"):
        return False
    status = getattr(record, "status_code", None)
    if status is not None and status < 500:
        return False
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, SuspiciousOperation)


def _fingerprint(record) -> tuple:
    if record.exc_info and record.exc_info[1] is not None:
        exc_type, _, tb = record.exc_info
        frames = traceback.extract_tb(tb) if tb else []
        where = (frames[-1].filename, frames[-1].lineno) if frames else ()
        return (record.name, exc_type.__qualname__, *where)
    return (record.name, str(record.msg), getattr(record, "status_code", None))


class ThrottledAdminEmailHandler(AdminEmailHandler):
    """AdminEmailHandler for server errors only, one mail per distinct error per interval."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._last_sent: dict[tuple, float] = {}
        self._held_back: dict[tuple, int] = {}
        self._recent: deque[float] = deque()
        self._note = ""
        self._state_lock = threading.Lock()

    def emit(self, record) -> None:
        if not settings.ADMINS or not _reportable(record):
            return
        key = _fingerprint(record)
        interval = settings.MQAFLOW_ERROR_EMAIL_INTERVAL_SECONDS
        now = time.monotonic()
        with self._state_lock:
            while self._recent and now - self._recent[0] >= interval:
                self._recent.popleft()
            last = self._last_sent.get(key)
            if (last is not None and now - last < interval) or len(
                self._recent
            ) >= settings.MQAFLOW_ERROR_EMAILS_PER_INTERVAL:
                self._held_back[key] = self._held_back.get(key, 0) + 1
                return
            self._last_sent[key] = now
            self._recent.append(now)
            held_back = self._held_back.pop(key, 0)
        self._note = (
            f"{held_back} more error(s) like this one were not mailed "
            f"(at most one every {interval} s).\n\n"
            if held_back
            else ""
        )
        super().emit(record)

    def send_mail(self, subject, message, *args, **kwargs):
        if kwargs.get("html_message"):
            kwargs["html_message"] = scrub(kwargs["html_message"])
        super().send_mail(scrub(subject), self._note + scrub(message), *args, **kwargs)

    def reset(self) -> None:
        """Forget what was sent (tests)."""
        with self._state_lock:
            self._last_sent.clear()
            self._held_back.clear()
            self._recent.clear()
