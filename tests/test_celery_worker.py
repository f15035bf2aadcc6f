"""A real Celery worker process, consuming from the real Redis, against the test database."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from mqaflow.celery import app
from mqaflow.models import MQAStatus
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

ROOT = Path(__file__).resolve().parent.parent


def start_worker(extra_env=None):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mqaflow.settings_test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mqaflow",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def publish_for_real():
    """The suite runs tasks eagerly; this test must go through the broker."""
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_redis_and_a_real_worker(publish_for_real):
    account = AccountFactory(funnel=1)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    from mqaflow.tasks import recompute_accounts

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    worker = start_worker()
    try:
        recompute_accounts.apply_async(args=[[account.pk]])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            account.refresh_from_db()
            if account.mqa_status == MQAStatus.MQA:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert account.mqa_status == MQAStatus.MQA, output[-3000:]
    assert "mqaflow.tasks.recompute_accounts" in output
    assert settings.CELERY_BROKER_URL.startswith("redis://")
