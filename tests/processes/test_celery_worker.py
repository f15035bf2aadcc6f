"""A real Celery worker process, consuming from the real Redis, against the test database."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from config.celery import app
from mqaflow.models import MQAStatus
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity
from tests.support.processes import process_env
from tests.support.processes import worker as start


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
    worker = start(process_env(), "roundtrip")
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
