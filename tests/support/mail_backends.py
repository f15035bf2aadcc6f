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


class SlowRecordingBackend(BaseEmailBackend):
    """Takes `delay` seconds per message; records (notice header, monotonic time) once
    each message is handed over. Class-level state so a test can watch another thread."""

    import threading as _threading

    sending = _threading.Event()
    handed_over: list = []
    delay = 1.0

    @classmethod
    def reset(cls, delay: float = 1.0) -> None:
        cls.sending = cls._threading.Event()
        cls.handed_over = []
        cls.delay = delay

    def send_messages(self, messages):
        import time

        from plays.notifications import NOTICE_HEADER

        for message in messages:
            type(self).sending.set()
            time.sleep(type(self).delay)
            type(self).handed_over.append(
                (message.extra_headers.get(NOTICE_HEADER), time.monotonic())
            )
        return len(messages)
