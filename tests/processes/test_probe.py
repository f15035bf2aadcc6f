"""`make probe`: the hardening scenarios over HTTP against a production-like stack.

gunicorn (production settings, DEBUG=0, 3 workers), one Celery worker and one beat, a
private password-protected redis-server as cache and broker, and a real SMTP server
(aiosmtpd) receiving the admins' error mail, all on the test database. Checked: Redis
stopped → ingest 201 and reads 200; overlapping batches from 8 clients → all 201, every event
stored once; oversized POSTs to the login page → 400 and no mail; a 500 → one mail per web
process, with no password, cookie or token in it; a failing /health/ → no mail.
"""

from __future__ import annotations

import contextlib
import email
import http.client
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import redis

from mqaflow.models import EngagementEvent
from mqaflow.tokens import token_issue
from tests.factories import AccountFactory, UserFactory
from tests.support.processes import ROOT, beat, process_env, stop, wait_for, worker
from tests.support.reliability_support import FlakySMTPHandler, free_port, start_smtp

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]

REDIS_PASSWORD = "probe-redis-pw-7f3a"
SECRET_KEY = "probe-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
WEB_WORKERS = 3


class Redis:
    """A private redis-server with a password, started and stopped by the probe."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--requirepass", REDIS_PASSWORD, "--save", "", "--appendonly", "no"),
                *("--dir", str(self.dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self.pings, timeout=10)

    def pings(self) -> bool:
        try:
            return redis.Redis.from_url(self.url).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Web:
    def __init__(self, port: int, token: str, log: Path) -> None:
        self.port = port
        self.token = token
        self.log = log

    def logged(self, text: str) -> int:
        """How many lines of the web processes' log contain `text`."""
        return sum(text in line for line in self.log.read_text().splitlines())

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.read(), response
        finally:
            conn.close()

    def post_oversized(self, path, body: bytes, headers: dict) -> int | None:
        """POST a body the server refuses before reading it all: it may answer and close
        while we are still sending. The status, or None if the connection was reset first."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest("POST", path)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                conn.putheader(name, value)
            conn.endheaders()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.send(body)
            try:
                return conn.getresponse().status
            except (ConnectionResetError, http.client.RemoteDisconnected):
                return None
        finally:
            conn.close()

    def api(self, method, path, data=None):
        body = json.dumps(data).encode() if data is not None else None
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        status, content, _ = self.request(method, path, body, headers)
        return status, content


def events(prefix: str, domains: list[str], n: int = 200) -> list[dict]:
    base = datetime.now(UTC) - timedelta(hours=1)
    return [
        {
            "id": f"{prefix}-{i}",
            "account": domains[i % len(domains)],
            "activity": "web_visit",
            "occurred_at": (base - timedelta(minutes=i)).isoformat(),
        }
        for i in range(n)
    ]


def mails(smtp: FlakySMTPHandler) -> list[email.message.EmailMessage]:
    with smtp.lock:
        raw = list(smtp.messages)
    return [email.message_from_bytes(m, policy=policy.default) for m in raw]


def mail_text(message) -> str:
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


@pytest.fixture
def stack(tmp_path):
    user = UserFactory(is_staff=True)
    _, key = token_issue(user=user, name="probe")
    domains = [a.domain for a in AccountFactory.create_batch(20)]
    smtp = FlakySMTPHandler()
    controller = start_smtp(smtp)
    cache = Redis(tmp_path)
    cache.start()
    port = free_port()
    env = process_env(
        DJANGO_SETTINGS_MODULE="tests.support.probe_settings",
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        SECURE_SSL_REDIRECT="0",
        REDIS_URL=cache.url,
        CELERY_BROKER_URL=cache.url,
        EMAIL_URL=f"smtp://127.0.0.1:{controller.port}",
        ADMIN_EMAILS="admins@seller.example",
        API_THROTTLE_USER="100000/min",
        LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(WEB_WORKERS), "--timeout", "60"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    procs = [web, worker(env, "probe"), beat(env, "probe", tmp_path)]
    client = Web(port, key, tmp_path / "web.log")

    def answers() -> bool:
        try:
            return client.request("GET", "/accounts/login/", timeout=5)[0] == 200
        except OSError:
            return False

    try:
        assert wait_for(answers, timeout=60), (tmp_path / "web.log").read_text()
        yield client, cache, smtp, domains
    finally:
        output = stop(*procs)
        log.close()
        cache.stop()
        controller.stop()
    (tmp_path / "processes.log").write_text(output)


def post_concurrently(client: Web, batches: list[list[dict]]) -> list[tuple[int, bytes]]:
    answers: list = [None] * len(batches)
    barrier = threading.Barrier(len(batches), timeout=30)

    def run(n):
        barrier.wait()
        answers[n] = client.api("POST", "/api/v1/events/", batches[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def test_probe(stack):
    client, cache, smtp, domains = stack

    # 1. Redis (cache and broker) stopped: ingest and reads go on; /health/ says 503, no mail.
    cache.stop()
    started = time.monotonic()
    for n in range(3):
        status, content = client.api("POST", "/api/v1/events/", events(f"down{n}", domains, 50))
        assert status == 201, content
    for path in ("/api/v1/accounts/", "/api/v1/events/", "/api/v1/owners/"):
        assert client.api("GET", path)[0] == 200, path
    assert client.request("GET", "/accounts/login/")[0] == 200
    status, content, _ = client.request("GET", "/health/")
    assert status == 503 and json.loads(content)["checks"]["broker"] != "ok"
    assert time.monotonic() - started < 30
    assert EngagementEvent.objects.count() == 150
    cache.start()

    # 2. Overlapping batches from 8 clients, in different orders, several rounds.
    rng = random.Random(7)
    for round_ in range(3):
        batch = events(f"r{round_}", domains)
        batches = [rng.sample(batch, k=len(batch) if round_ == 0 else 140) for _ in range(8)]
        answers = post_concurrently(client, batches)
        assert [status for status, _ in answers] == [201] * 8, answers
        created = sum(json.loads(content)["created"] for _, content in answers)
        distinct = {e["id"] for b in batches for e in b}
        assert created == len(distinct)
        assert EngagementEvent.objects.filter(external_id__startswith=f"r{round_}-").count() == (
            len(distinct)
        )

    # 3. Oversized POSTs to the login page with a CSRF cookie: 400, no mail to anyone.
    _, _, response = client.request("GET", "/accounts/login/")
    cookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie.load(header)
    csrf = cookie["csrftoken"].value
    body = (f"csrfmiddlewaretoken={csrf}&username=x&password=" + "a" * 9_000_000).encode()
    statuses = [
        client.post_oversized(
            "/accounts/login/",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"},
        )
        for _ in range(3)
    ]
    # None: the server closed the connection before we could read its answer.
    assert set(statuses) <= {400, 413, None} and set(statuses) & {400, 413}, statuses
    # Each refusal is logged after the admin-mail handler saw it (the "django" logger's
    # handlers run before the root's console): once all three are logged, no mail is final.
    assert wait_for(lambda: client.logged("ERROR django.security.RequestDataTooBig") >= 3, 10)
    assert mails(smtp) == []

    # 4. A server error, many times: at most one mail per web process, no secret in it.
    for _ in range(10):
        status, _, _ = client.request(
            "GET",
            "/broken/",
            headers={"Cookie": f"csrftoken={csrf}", "Authorization": "Token probe-token-abc"},
        )
        assert status == 500
    # The mail, if any, goes out (synchronously) before the error is logged to the console.
    assert wait_for(lambda: client.logged("Internal Server Error: /broken/") >= 10, timeout=10)
    received = mails(smtp)
    assert 1 <= len(received) <= WEB_WORKERS
    for message in received:
        text = mail_text(message)
        assert "RuntimeError" in text
        for secret in (REDIS_PASSWORD, SECRET_KEY, csrf, "probe-token-abc"):
            assert secret not in text
