"""Redis stopped and restarted for real: a private redis-server started by the test."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime

import pytest
import redis
from django.utils import timezone

from config.celery import app
from mqaflow.models import Account, EngagementEvent, MQAStatus
from plays.models import Notice, Play
from tests.factories import AccountFactory, ContactFactory, org_chart, qualified_plays
from tests.support.processes import process_env, stop, wait_for, worker
from tests.support.reliability_support import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]


class PrivateRedis:
    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        assert wait_for(lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    def queued(self) -> int:
        return redis.Redis.from_url(self.url).llen("celery")


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def _use_broker(url: str | None) -> None:
    """Point this process's Celery producer at `url` (None: back to the settings)."""
    from django.conf import settings

    app.conf.broker_url = url or settings.CELERY_BROKER_URL
    app.conf.task_always_eager = url is None
    app._pool = None
    if hasattr(app.amqp, "_producer_pool"):
        app.amqp._producer_pool = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    _use_broker(server.url)
    yield server
    _use_broker(None)
    server.stop()


def test_redis_stopped_during_ingest_then_back(private_redis, api_client):
    account = AccountFactory(domain="acme.com", funnel=1)
    ContactFactory(account=account, email="jo@acme.com")
    private_redis.stop()
    started = time.monotonic()
    events = [
        {
            "id": f"down-{i}",
            "account": "acme.com",
            "contact": "jo@acme.com",
            "activity": "demo_request" if i == 0 else "web_visit",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        for i in range(20)
    ]
    for i in range(0, 20, 5):
        response = api_client.post("/api/v1/events/", events[i : i + 5], format="json")
        assert response.status_code == 201, response.content
    assert time.monotonic() - started < 30
    assert EngagementEvent.objects.count() == 20
    account.refresh_from_db()
    assert account.mqa_status == MQAStatus.NOT_QUALIFIED

    private_redis.start()  # Redis is back; nothing was queued while it was down
    env = process_env(CELERY_BROKER_URL=private_redis.url, REDIS_URL=private_redis.url)
    proc = worker(env, "after-outage")
    try:
        from mqaflow.tasks import recompute_pending

        recompute_pending.apply_async()  # what beat publishes every minute
        assert wait_for(
            lambda: Account.objects.get(pk=account.pk).mqa_status == MQAStatus.MQA, timeout=60
        )
    finally:
        stop(proc)
    assert Play.objects.filter(account=account).count() == 1


def test_redis_restarted_with_tasks_queued_loses_no_work(private_redis):
    people = org_chart()
    plays = qualified_plays(people["adr"], 5, timezone.now())  # 5 new-play notices queued
    account = AccountFactory(funnel=1, owner=people["adr"])
    ContactFactory(account=account)
    from mqaflow.tasks import recompute_accounts

    recompute_accounts.apply_async(args=[[account.pk]])
    assert private_redis.queued() >= 6
    private_redis.stop()
    private_redis.start()  # no AOF, no RDB: the queue is gone
    assert private_redis.queued() == 0
    assert Notice.objects.filter(step=0, status="pending").count() == len(plays)

    env = process_env(CELERY_BROKER_URL=private_redis.url, REDIS_URL=private_redis.url)
    proc = worker(env, "after-restart")
    try:
        from plays.tasks import escalations_sweep_task

        escalations_sweep_task.apply_async()  # beat, a minute later
        assert wait_for(
            lambda: Notice.objects.filter(step=0, status="sent").count() == len(plays),
            timeout=60,
        )
    finally:
        stop(proc)
