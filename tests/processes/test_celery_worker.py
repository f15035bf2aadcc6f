"""A real Celery worker process, consuming from the real Redis, against the test database."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from config.celery import app
from mqaflow.models import Account, MQAStatus
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity
from tests.support.processes import process_env, stop, wait_for
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
        qualified = wait_for(
            lambda: Account.objects.get(pk=account.pk).mqa_status == MQAStatus.MQA, timeout=60
        )
    finally:
        output = stop(worker)
    assert qualified, output[-3000:]
    assert "mqaflow.tasks.recompute_accounts" in output
    assert re.search(r"transport:\s+redis://", output), output[:3000]  # the worker's own broker
