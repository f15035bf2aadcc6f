"""Mail backends that fail on purpose, for delivery tests."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


class Rejecting550Backend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})


class Busy451Backend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPDataError(451, b"try again later")


class WaitedOnBackend(BaseEmailBackend):
    """Holds each send, inside the sender's transaction, until another database session
    waits for a lock the sender holds (at most `timeout` s), then records (notice header,
    monotonic time) as the message is handed over and whether anyone had waited.
    Class-level state so a test can watch another thread."""

    import threading as _threading

    sending = _threading.Event()
    handed_over: list = []
    waited_on: list = []
    timeout = 10.0

    @classmethod
    def reset(cls, timeout: float = 10.0) -> None:
        cls.sending = cls._threading.Event()
        cls.handed_over = []
        cls.waited_on = []
        cls.timeout = timeout

    def send_messages(self, messages):
        import time

        from plays.notifications import NOTICE_HEADER

        for message in messages:
            type(self).sending.set()
            type(self).waited_on.append(_someone_waits_on_me(type(self).timeout))
            type(self).handed_over.append(
                (message.extra_headers.get(NOTICE_HEADER), time.monotonic())
            )
        return len(messages)


def _someone_waits_on_me(timeout: float) -> bool:
    """Poll pg_stat_activity until a session waits for a lock this thread's connection
    holds."""
    import time

    from django.db import connection

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone() is not None:
                return True
            time.sleep(0.01)
    return False
