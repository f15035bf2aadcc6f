"""Writing accounts' MQA state in bulk, and the service that re-weights stored events."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mqaflow.models import (
    Account,
    ActNowRule,
    EngagementEvent,
    MQAClause,
    MQARule,
    MQAStatus,
)
from mqaflow.models.accounts import MQA_STATE_FIELDS
from mqaflow.qualification import writes
from mqaflow.reweight import UnknownActivity, events_reweight
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

pytestmark = pytest.mark.django_db


def test_each_state_field_is_cast_to_its_own_column_type():
    assert writes.state_casts() == {
        "mqa_status": "varchar(20)",
        "qualified_at": "timestamp with time zone",
        "mqa_rule": "bigint",
        "mqa_clause": "bigint",
        "mqa_act_now_rule": "bigint",
        "mqa_figures": "jsonb",
        "mqa_explanation": "text",
    }
    assert list(writes.state_casts()) == MQA_STATE_FIELDS


def test_a_state_field_without_a_column_fails_loudly(monkeypatch):
    monkeypatch.setattr(writes, "STATE_FIELDS", [*MQA_STATE_FIELDS, "contacts"])
    with pytest.raises(TypeError, match=r"Account\.contacts"):
        writes.state_casts()


def test_every_state_field_is_written_to_its_own_column():
    rule = MQARule.objects.first()
    clause = MQAClause.objects.first()
    act_now = ActNowRule.objects.first()
    assert rule and clause and act_now
    at = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    qualified, reset = AccountFactory(), AccountFactory(mqa_status=MQAStatus.MQA)
    qualified.mqa_status = MQAStatus.MQA
    qualified.qualified_at = at
    qualified.mqa_rule, qualified.mqa_clause, qualified.mqa_act_now_rule = rule, clause, act_now
    qualified.mqa_figures = {"minutes": 12.5, "people": 2}
    qualified.mqa_explanation = "Qualified: two people."
    reset.mqa_status = MQAStatus.NOT_QUALIFIED
    reset.mqa_explanation = "Not yet."
    writes.accounts_write_state(accounts=[qualified, reset])
    stored = Account.objects.in_bulk([qualified.pk, reset.pk])
    for account in (qualified, reset):
        for name in MQA_STATE_FIELDS:
            assert getattr(stored[account.pk], name) == getattr(account, name), name
    assert stored[qualified.pk].history.count() == 2  # created, then the bulk history row


def test_events_reweight_counts_then_applies_current_weights():
    account = AccountFactory()
    vp = ContactFactory(account=account, seniority="vp")
    web = activity("web_visit")
    event = EventFactory(account=account, contact=vp, activity=web, minutes=Decimal(1))
    web.minutes = Decimal(3)
    web.save()
    assert events_reweight(activity="web_visit", dry_run=True) == 1
    assert EngagementEvent.objects.get(pk=event.pk).minutes == Decimal(1)
    assert events_reweight(activity="web_visit") == 1
    assert EngagementEvent.objects.get(pk=event.pk).minutes == Decimal("6.00")  # × VP 2
    with pytest.raises(UnknownActivity):
        events_reweight(activity="no_such_activity")
