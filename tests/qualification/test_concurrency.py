"""Two recomputes of the same accounts at once, on real PostgreSQL connections."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from mqaflow.models import MQATransition
from mqaflow.qualification import engine
from mqaflow.signals import account_qualified
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_recomputes_record_one_transition_and_one_signal(monkeypatch):
    now = datetime.now(UTC)
    accounts = AccountFactory.create_batch(20, funnel=1)
    for account in accounts:
        EventFactory(
            account=account,
            contact=ContactFactory(account=account),
            activity=activity("demo_request"),
            occurred_at=now - timedelta(hours=1),
        )
    ids = [a.pk for a in accounts]

    # Both threads decide before either writes: the race the row lock must settle.
    barrier = threading.Barrier(2, timeout=20)
    real_record = engine._record

    def record_after_both_decided(changed, **kwargs):
        barrier.wait()
        return real_record(changed, **kwargs)

    monkeypatch.setattr(engine, "_record", record_after_both_decided)
    signals, errors = [], []
    lock = threading.Lock()

    def on_qualified(sender, transition, **kwargs):
        with lock:
            signals.append(transition.account_id)

    account_qualified.connect(on_qualified)

    def run():
        try:
            engine.accounts_evaluate(account_ids=ids, now=now)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        account_qualified.disconnect(on_qualified)
    assert not errors
    assert MQATransition.objects.filter(account_id__in=ids).count() == 20
    assert sorted(signals) == sorted(ids)
