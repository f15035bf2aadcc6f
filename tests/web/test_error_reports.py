"""Admin error mail: server errors only, one per distinct error per interval, no secrets."""

from __future__ import annotations

import logging
import types

import pytest
from django.core import mail
from django.test import Client

from mqaflow.error_reporting import ThrottledAdminEmailHandler, scrub
from tests.factories import OwnerFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "REDIS_URL": "redis://:redis-pw-123@cache.internal:6379/0",
    "CELERY_BROKER_URL": "redis://app:broker-pw-456@broker.internal:6379/1",
    "EMAIL_HOST_PASSWORD": "smtp-pw-789",
}


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("Admins", "admins@seller.example")]
    settings.ROOT_URLCONF = "tests.support.error_urls"
    settings.MQAFLOW_ERROR_EMAIL_INTERVAL_SECONDS = 600
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    handlers = [
        h for h in logging.getLogger("django").handlers if isinstance(h, ThrottledAdminEmailHandler)
    ]
    assert handlers, "the django logger mails admins through ThrottledAdminEmailHandler"
    for handler in handlers:
        handler.reset()
    yield settings
    for handler in handlers:
        handler.reset()


def test_an_oversized_post_to_the_login_page_mails_nobody(admins):
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")  # the CSRF cookie: all an attacker needs
    token = client.cookies["csrftoken"].value
    body = f"csrfmiddlewaretoken={token}&username=x&password=" + "a" * (8 * 1024 * 1024 + 1)
    for _ in range(3):
        response = client.post(
            "/accounts/login/", body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code in (400, 413)
    assert mail.outbox == []


def test_client_errors_and_bad_hosts_mail_nobody(admins):
    client = Client(raise_request_exception=False)
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/accounts/login/", HTTP_HOST="evil.example").status_code == 400
    assert mail.outbox == []


def test_a_failing_health_check_is_logged_not_mailed(admins, client, caplog):
    # No periodic job has run: /health/ answers 503.
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert client.get("/health/").status_code == 503
    assert mail.outbox == []
    assert "health check failed (503)" in caplog.text
    assert "recompute_all: has not run yet" in caplog.text


def test_a_server_error_mails_once_without_cookies_tokens_or_passwords(admins):
    owner = OwnerFactory()
    client = Client(raise_request_exception=False)
    client.force_login(owner.user)
    client.get("/accounts/login/")
    session_id = client.cookies["sessionid"].value
    csrf = client.cookies["csrftoken"].value
    headers = {
        "HTTP_AUTHORIZATION": "Token tok-secret-abc",
        # What runserver passes on from the environment.
        "DATABASE_URL": "postgres://app:db-pw-000@db.internal:5432/app",
    }
    assert client.get("/broken/", **headers).status_code == 500
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    text = message.subject + message.body + "".join(str(a[0]) for a in message.alternatives)
    assert "RuntimeError" in text and "cannot reach redis://" in text  # still a useful report
    for secret in (
        session_id,
        csrf,
        "tok-secret-abc",
        "redis-pw-123",
        "broker-pw-456",
        "db-pw-000",
        "smtp-pw-789",
    ):
        assert secret not in text, secret

    # The same error again: no second mail. Another error: its own mail.
    assert client.get("/broken/", **headers).status_code == 500
    assert len(mail.outbox) == 1
    assert client.get("/broken-elsewhere/").status_code == 500
    assert len(mail.outbox) == 2
    assert "KeyError" in mail.outbox[1].body


def test_the_same_error_is_mailed_again_after_the_interval_with_a_count(admins, monkeypatch):
    # The handler's own clock, so no other module's sense of time moves.
    clock = [1000.0]
    monkeypatch.setattr(
        "mqaflow.error_reporting.time", types.SimpleNamespace(monotonic=lambda: clock[0])
    )
    client = Client(raise_request_exception=False)
    for _ in range(3):
        client.get("/broken/")
    assert len(mail.outbox) == 1
    clock[0] += admins.MQAFLOW_ERROR_EMAIL_INTERVAL_SECONDS - 0.001
    client.get("/broken/")
    assert len(mail.outbox) == 1  # not yet
    clock[0] += 0.001
    client.get("/broken/")
    assert len(mail.outbox) == 2
    assert "3 more error(s) like this one were not mailed" in mail.outbox[1].body


def test_at_most_a_handful_of_error_mails_per_interval(admins):
    admins.MQAFLOW_ERROR_EMAILS_PER_INTERVAL = 1
    client = Client(raise_request_exception=False)
    client.get("/broken/")
    client.get("/broken-elsewhere/")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("redis://:pw@h:6379/0", "redis://********************@h:6379/0"),
        ("see amqp://user:p%40ss@mq/vhost now", "see amqp://********************@mq/vhost now"),
        ("'https://token@api.example/x'", "'https://********************@api.example/x'"),
        (
            "postgres://postgres@127.0.0.1:5432/db",
            "postgres://********************@127.0.0.1:5432/db",
        ),
        ("http://example.com/a@b", "http://example.com/a@b"),
        ("mail bob@x.com", "mail bob@x.com"),
    ],
)
def test_scrub_removes_credentials_from_urls(text, expected):
    assert scrub(text) == expected


def test_no_setting_shows_a_password_whatever_its_name(settings):
    from config.settings.django import redis_caches
    from mqaflow.error_reporting import SecretsFilter

    settings.CACHES = redis_caches("redis://:cache-pw-1@cache.internal:6379/0")
    settings.ANALYTICS_ENDPOINT = "https://ingest:analytics-pw-2@stats.example/v1"
    settings.PARTNER_FEEDS = ["ftp://feeds:ftp-pw-3@partner.example/in"]
    shown = repr(SecretsFilter().get_safe_settings())
    for secret in ("cache-pw-1", "analytics-pw-2", "ftp-pw-3", settings.SECRET_KEY):
        assert secret not in shown
    assert "stats.example" in shown  # hidden by shape, not by name
