"""Shared pieces of the fault tests: a real SMTP server that can misbehave on purpose,
a hanging one, and a way to make due plays (the org chart is tests.factories.org_chart)."""

from __future__ import annotations

import email
import socket
import threading

from aiosmtpd.controller import Controller

from plays.notifications import NOTICE_HEADER


class FlakySMTPHandler:
    """Accepts mail, or answers with `fail_code` while it is set (e.g. 451 or 550)."""

    def __init__(self) -> None:
        self.fail_code: int | None = None
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.fail_code:
            return f"{self.fail_code} Simulated failure"
        with self.lock:
            self.messages.append(envelope.content)
        return "250 OK"

    def notice_headers(self) -> list[str]:
        """Every (play:step) delivered, one entry per notice: a digest lists several."""
        out = []
        for raw in list(self.messages):
            header = email.message_from_bytes(raw).get(NOTICE_HEADER, "")
            out.extend(k.strip() for k in " ".join(header.split()).split(",") if k.strip())
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(handler: FlakySMTPHandler) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


def use_smtp(settings, port: int, timeout: int = 2) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = timeout


class HangingServer:
    """Accepts TCP connections and never says a word: a mail server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()
