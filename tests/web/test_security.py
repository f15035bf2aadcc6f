import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from mqaflow.models import ApiToken
from mqaflow.tokens import token_issue
from tests.factories import AccountFactory, OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def token_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_tokens_are_hashed_at_rest_and_not_shown_in_admin(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    token, key = token_issue(user=user, name="sync")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key not in (stored.key_digest, stored.prefix) and len(stored.key_digest) == 64
    client.force_login(user)
    page = client.get(f"/admin/mqaflow/apitoken/{token.pk}/change/").content.decode()
    assert key not in page and stored.key_digest not in page
    assert token_client(key).get("/api/v1/accounts/").status_code == 200


def test_rotation_and_revocation_take_effect_at_once():
    user = UserFactory(username="ops@s.example", email="ops@s.example")
    out = StringIO()
    call_command("api_token", "issue", "ops@s.example", stdout=out)
    first = out.getvalue().split(": ")[1].split()[0]
    assert token_client(first).get("/api/v1/accounts/").status_code == 200
    out = StringIO()
    call_command("api_token", "rotate", "ops@s.example", stdout=out)
    second = out.getvalue().splitlines()[1].split(": ")[1]
    assert token_client(first).get("/api/v1/accounts/").status_code == 401
    assert token_client(second).get("/api/v1/accounts/").status_code == 200
    ApiToken.objects.get(user=user, revoked_at__isnull=True).revoke()
    assert token_client(second).get("/api/v1/accounts/").status_code == 401
    assert token_client("made-up").get("/api/v1/accounts/").status_code == 401


def test_api_throttling_answers_429_with_retry_after(monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    # monkeypatch, not an assignment: it leaves the subclass inheriting the rates again
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "3/min"})
    responses = [client.get("/api/v1/accounts/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert 0 < int(responses[-1]["Retry-After"]) <= 60  # a 3/min window


def test_login_is_throttled_after_repeated_failures():
    owner = OwnerFactory(email="ana@s.example")
    owner.user.set_password("right-password-1")
    owner.user.save()
    client = Client()
    codes = [
        client.post(
            "/accounts/login/", {"username": "ana@s.example", "password": "wrong"}
        ).status_code
        for _ in range(6)
    ]
    assert codes[:4] == [200] * 4 and codes[-1] == 429
    locked = client.post(
        "/accounts/login/", {"username": "ana@s.example", "password": "right-password-1"}
    )
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content


def test_session_authenticated_api_posts_need_csrf():
    owner = OwnerFactory()
    AccountFactory(domain="acme.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    event = {
        "id": "x",
        "account": "acme.com",
        "activity": "web_visit",
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    for path, body in (
        ("/api/v1/events/", [event]),
        ("/api/v1/accounts/", {"domain": "n.example", "name": "N", "funnel": 1}),
        ("/api/v1/plays/1/start/", {}),
    ):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["detail"]


def test_deploy_checks_are_clean_with_the_documented_production_env():
    test_only = {"SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in test_only},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "production-secret-with-enough-entropy-1234567890",
        "ALLOWED_HOSTS": "mqaflow.example.com",
        "SITE_URL": "https://mqaflow.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
