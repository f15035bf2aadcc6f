"""Requests never depend on Redis: the production cache configuration, Redis stopped."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime

import pytest
import redis
from django.test import Client

from config.settings.django import redis_caches
from mqaflow import cache as fail_open
from mqaflow.models import EngagementEvent
from tests.factories import AccountFactory, OwnerFactory
from tests.processes.test_reliability_redis import PrivateRedis

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]


@pytest.fixture
def redis_cache(tmp_path, settings):
    """The cache exactly as production configures it, on a private redis-server."""
    server = PrivateRedis(tmp_path)
    server.start()
    fail_open.reset()
    settings.CACHES = redis_caches(server.url)
    yield server
    server.stop()
    fail_open.reset()


def events(prefix: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i}",
            "account": "acme.com",
            "activity": "web_visit",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        for i in range(n)
    ]


def test_with_redis_stopped_the_api_and_the_login_page_keep_working(redis_cache, api_client):
    AccountFactory(domain="acme.com")
    owner = OwnerFactory(email="ana@s.example")
    owner.user.set_password("right-password-1")
    owner.user.save()

    # Redis up: the throttle counters really live in it.
    assert api_client.get("/api/v1/accounts/").status_code == 200
    assert redis.Redis.from_url(redis_cache.url).keys("*throttle*")

    redis_cache.stop()
    started = time.monotonic()
    for n in range(3):
        response = api_client.post("/api/v1/events/", events(f"down{n}", 5), format="json")
        assert response.status_code == 201, response.content
        assert response.json() == {"created": 5, "duplicates": 0}
    assert EngagementEvent.objects.count() == 15
    for path in ("/api/v1/accounts/", "/api/v1/events/", "/api/v1/owners/"):
        assert api_client.get(path).status_code == 200, path

    browser = Client()
    assert browser.get("/accounts/login/").status_code == 200
    wrong = browser.post("/accounts/login/", {"username": "ana@s.example", "password": "nope"})
    assert wrong.status_code == 200  # the form again, with its error
    right = browser.post(
        "/accounts/login/", {"username": "ana@s.example", "password": "right-password-1"}
    )
    assert right.status_code == 302
    assert browser.get("/plays/").status_code == 200
    assert time.monotonic() - started < 10

    # Redis back: after the short retry pause the cache is used again.
    redis_cache.start()
    fail_open.reset()
    redis.Redis.from_url(redis_cache.url).flushdb()
    assert api_client.get("/api/v1/accounts/").status_code == 200
    assert redis.Redis.from_url(redis_cache.url).keys("*throttle*")


def test_throttling_still_works_with_redis_up(redis_cache, monkeypatch):
    from rest_framework.test import APIClient
    from rest_framework.throttling import UserRateThrottle

    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory())
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "2/min"})
    codes = [client.get("/api/v1/accounts/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_cache_acts_empty_while_redis_is_down(redis_cache):
    from django.core.cache import cache

    cache.set("k", 1)
    assert cache.get("k") == 1
    redis_cache.stop()
    assert cache.get("k") is None and cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["k"]) == {} and not cache.has_key("k")
    assert cache.add("k", 2) is False
    cache.set("k", 3)  # dropped, no error
    assert cache.get_or_set("k", 4) == 4
    with pytest.raises(ValueError):
        cache.incr("k")
    redis_cache.start()
    fail_open.reset()
    cache.set("k", 5)
    assert cache.get("k") == 5
