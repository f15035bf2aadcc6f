from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from mqaflow.models import (
    ActNowRule,
    BandwidthPeriod,
    MQAClause,
    MQARule,
    MQAStatus,
    MQATransition,
    SizeBand,
)
from mqaflow.qualification.engine import account_explain, accounts_evaluate
from mqaflow.signals import account_qualified, accounts_qualified
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def engage(account, minutes, *, days_ago=1, contact=None, key="web_visit", **contact_kw):
    if contact is None and contact_kw:
        contact = ContactFactory(account=account, **contact_kw)
    return EventFactory(
        account=account,
        contact=contact,
        activity=activity(key),
        minutes=Decimal(minutes),
        occurred_at=NOW - timedelta(days=days_ago),
    )


def status(account):
    account.refresh_from_db()
    return account.mqa_status


def test_funnel_1_large_qualifies_with_30_minutes_from_2_people():
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 20, persona="it")
    engage(account, 10, persona="finance")
    result = accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert len(result.transitions) == 1
    assert account.mqa_rule.funnel == 1
    assert account.qualified_at == NOW
    assert account.mqa_explanation == (
        "Qualified by Funnel 1 (large): 30 minutes from 2 people in the last 30 days "
        "(needs 30 from 2)."
    )


def test_minutes_alone_from_one_person_do_not_qualify():
    account = AccountFactory(funnel=1, employees=500)
    contact = ContactFactory(account=account)
    engage(account, 100, contact=contact)
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.NOT_QUALIFIED
    why = account_explain(account=account, now=NOW).explanation
    assert why == (
        "Not qualified under Funnel 1 (large): 100 minutes from 1 person in the last 30 days "
        "(needs 30 from 2) or 100 minutes from 1 person, most senior Individual contributor "
        "in the last 30 days (needs 60 from 1, a VP or above)."
    )


def test_small_companies_need_half_the_minutes():
    small = AccountFactory(funnel=1, employees=50)
    large = AccountFactory(funnel=1, employees=5000)
    for account in (small, large):
        engage(account, 10, persona="it")
        engage(account, 10, persona="sales")
    accounts_evaluate(account_ids=[small.pk, large.pk], now=NOW)
    assert status(small) == MQAStatus.MQA
    assert status(large) == MQAStatus.NOT_QUALIFIED


def test_funnel_3_needs_more_than_funnel_1():
    f1 = AccountFactory(funnel=1, employees=500)
    f3 = AccountFactory(funnel=3, employees=500)
    for account in (f1, f3):
        engage(account, 30, persona="it")
        engage(account, 30, persona="sales")
    accounts_evaluate(account_ids=[f1.pk, f3.pk], now=NOW)
    assert status(f1) == MQAStatus.MQA
    assert status(f3) == MQAStatus.NOT_QUALIFIED


def test_anonymous_events_count_toward_minutes_but_not_people():
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 5, persona="it")
    engage(account, 5, persona="it")
    for _ in range(3):
        engage(account, 10)  # anonymous
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert account.mqa_figures["people"] == 2
    assert account.mqa_figures["minutes"] == 40
    assert account.mqa_figures["events"] == 5

    only_anonymous = AccountFactory(funnel=1, employees=500)
    for _ in range(10):
        engage(only_anonymous, 10)
    accounts_evaluate(account_ids=[only_anonymous.pk], now=NOW)
    assert status(only_anonymous) == MQAStatus.NOT_QUALIFIED


def test_event_exactly_at_the_window_boundary_counts_and_a_second_earlier_does_not():
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 15, persona="it")
    edge_contact = ContactFactory(account=account, persona="sales")
    event = engage(account, 15, contact=edge_contact)
    event.occurred_at = NOW - timedelta(days=30)
    event.save()
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA

    other = AccountFactory(funnel=1, employees=500)
    engage(other, 15, persona="it")
    late = engage(other, 15, persona="sales")
    late.occurred_at = NOW - timedelta(days=30, seconds=1)
    late.save()
    accounts_evaluate(account_ids=[other.pk], now=NOW)
    assert status(other) == MQAStatus.NOT_QUALIFIED


def test_ageing_out_recycles_and_requalifying_is_a_new_transition():
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 20, persona="it", days_ago=1)
    engage(account, 20, persona="sales", days_ago=1)
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA

    later = NOW + timedelta(days=31)
    accounts_evaluate(account_ids=[account.pk], now=later)
    assert status(account) == MQAStatus.NOT_QUALIFIED
    assert account.qualified_at is None

    for persona in ("it", "sales"):
        EventFactory(
            account=account,
            contact=ContactFactory(account=account, persona=persona),
            minutes=Decimal(20),
            occurred_at=later,
        )
    accounts_evaluate(account_ids=[account.pk], now=later + timedelta(hours=1))
    assert status(account) == MQAStatus.MQA
    moves = list(
        MQATransition.objects.filter(account=account)
        .order_by("at")
        .values_list("from_status", "to_status")
    )
    assert moves == [("not_qualified", "mqa"), ("mqa", "not_qualified"), ("not_qualified", "mqa")]


def test_demo_request_qualifies_at_once_whatever_the_thresholds():
    account = AccountFactory(funnel=3, employees=10000)
    engage(account, 1, persona="it", key="demo_request")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert account.mqa_act_now_rule.activity.key == "demo_request"
    assert account.mqa_explanation.startswith("Act Now: Demo requested")


def test_meeting_request_needs_a_director_or_above():
    junior = AccountFactory(funnel=3, employees=10000)
    engage(junior, 1, seniority="manager", key="meeting_requested")
    senior = AccountFactory(funnel=3, employees=10000)
    engage(senior, 1, seniority="director", key="meeting_requested")
    accounts_evaluate(account_ids=[junior.pk, senior.pk], now=NOW)
    assert status(junior) == MQAStatus.NOT_QUALIFIED
    assert status(senior) == MQAStatus.MQA


def test_act_now_with_two_distinct_people():
    rule = ActNowRule.objects.create(
        name="Pricing demo by two people", activity=activity("content_download"), min_people=2
    )
    account = AccountFactory(funnel=3, employees=10000)
    person = ContactFactory(account=account)
    engage(account, 1, contact=person, key="content_download")
    engage(account, 1, contact=person, key="content_download")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.NOT_QUALIFIED
    engage(account, 1, persona="it", key="content_download")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert account.mqa_act_now_rule == rule


def test_excluded_account_never_qualifies_and_exclusion_removes_mqa():
    partner = AccountFactory(funnel=1, excluded=True, excluded_reason="partner")
    engage(partner, 1, persona="it", key="demo_request")
    accounts_evaluate(account_ids=[partner.pk], now=NOW)
    assert status(partner) == MQAStatus.EXCLUDED

    account = AccountFactory(funnel=1)
    engage(account, 1, persona="it", key="demo_request")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    account.excluded, account.excluded_reason = True, "competitor"
    account.save()
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.EXCLUDED
    assert account.mqa_explanation == "Excluded: competitor."


def _custom_rule(**clauses):
    """Replace the Funnel 1 large rule by one with the given clauses (OR of them)."""
    MQARule.objects.filter(funnel=1).update(is_active=False)
    rule = MQARule.objects.create(name="Custom F1", funnel=1, size_band=None)
    for order, (name, fields) in enumerate(clauses.items()):
        MQAClause.objects.create(rule=rule, order=order, name=name, **fields)
    return rule


def test_or_of_clauses_and_and_within_a_clause():
    _custom_rule(
        team={"window_days": 30, "min_people": 4},
        busy={"window_days": 30, "min_people": 3, "min_events": 9},
    )
    four = AccountFactory(funnel=1)
    for persona in ("it", "sales", "finance", "marketing"):
        engage(four, 1, persona=persona)
    three_busy = AccountFactory(funnel=1)
    people = [ContactFactory(account=three_busy) for _ in range(3)]
    for i in range(9):
        engage(three_busy, 1, contact=people[i % 3])
    three_quiet = AccountFactory(funnel=1)
    for i in range(8):
        engage(three_quiet, 1, contact=ContactFactory(account=three_quiet) if i < 3 else None)
    accounts_evaluate(account_ids=[four.pk, three_busy.pk, three_quiet.pk], now=NOW)
    assert status(four) == MQAStatus.MQA and four.mqa_clause.name == "team"
    assert status(three_busy) == MQAStatus.MQA and three_busy.mqa_clause.name == "busy"
    assert status(three_quiet) == MQAStatus.NOT_QUALIFIED


def test_personas_filter_min_personas_seniority_and_qualified_leads():
    _custom_rule(
        key={"window_days": 30, "personas": ["it", "finance"], "min_minutes": 30, "min_people": 2},
    )
    a = AccountFactory(funnel=1)
    engage(a, 20, persona="it")
    engage(a, 20, persona="marketing")  # not a key persona
    accounts_evaluate(account_ids=[a.pk], now=NOW)
    assert status(a) == MQAStatus.NOT_QUALIFIED
    engage(a, 10, persona="finance")
    accounts_evaluate(account_ids=[a.pk], now=NOW)
    assert status(a) == MQAStatus.MQA
    assert "among it, finance" in a.mqa_explanation

    _custom_rule(spread={"window_days": 90, "min_minutes": 30, "min_personas": 3})
    b = AccountFactory(funnel=1)
    engage(b, 15, persona="it")
    engage(b, 15, persona="it")
    accounts_evaluate(account_ids=[b.pk], now=NOW)
    assert status(b) == MQAStatus.NOT_QUALIFIED
    engage(b, 1, persona="sales")
    engage(b, 1, persona="finance")
    accounts_evaluate(account_ids=[b.pk], now=NOW)
    assert status(b) == MQAStatus.MQA

    _custom_rule(exec={"window_days": 30, "require_seniority": "vp"})
    c = AccountFactory(funnel=1)
    engage(c, 1, seniority="director")
    accounts_evaluate(account_ids=[c.pk], now=NOW)
    assert status(c) == MQAStatus.NOT_QUALIFIED
    engage(c, 1, seniority="c_level")
    accounts_evaluate(account_ids=[c.pk], now=NOW)
    assert status(c) == MQAStatus.MQA

    _custom_rule(leads={"window_days": 30, "min_qualified_leads": 2, "lead_minutes": 10})
    d = AccountFactory(funnel=1)
    lead = ContactFactory(account=d)
    engage(d, 6, contact=lead)
    engage(d, 6, contact=lead)
    engage(d, 9, persona="it")
    accounts_evaluate(account_ids=[d.pk], now=NOW)
    assert status(d) == MQAStatus.NOT_QUALIFIED
    engage(d, 10, persona="sales")
    accounts_evaluate(account_ids=[d.pk], now=NOW)
    assert status(d) == MQAStatus.MQA


def test_most_specific_rule_wins():
    band = SizeBand.objects.get(slug="large")
    MQARule.objects.filter(funnel=1, size_band=band).update(is_active=False)
    generic = MQARule.objects.create(name="Any size F1", funnel=1)
    MQAClause.objects.create(rule=generic, window_days=30, min_minutes=1)
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 2, persona="it")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert account.mqa_rule == generic
    small = AccountFactory(funnel=1, employees=5)
    engage(small, 2, persona="it")
    accounts_evaluate(account_ids=[small.pk], now=NOW)
    assert status(small) == MQAStatus.NOT_QUALIFIED  # the specific small-band rule still applies
    assert account_explain(account=small, now=NOW).rule.size_band.slug == "small"


def test_bandwidth_period_scales_thresholds_and_is_explained():
    BandwidthPeriod.objects.create(
        name="December bandwidth",
        starts_on=NOW.date() - timedelta(days=1),
        ends_on=NOW.date() + timedelta(days=1),
        factor=Decimal("1.5"),
    )
    account = AccountFactory(funnel=1, employees=500)
    engage(account, 20, persona="it")
    engage(account, 20, persona="sales")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.NOT_QUALIFIED  # needs 45 minutes from 3 people
    assert "×1.5 for December bandwidth" in account_explain(account=account, now=NOW).explanation
    engage(account, 10, persona="finance")
    accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert status(account) == MQAStatus.MQA
    assert "needs 45 from 3" in account.mqa_explanation


def test_unchanged_accounts_write_no_transition_and_signal_fires_once():
    received = []

    def receiver(sender, transition, **kwargs):
        received.append(transition.account_id)

    account_qualified.connect(receiver)
    try:
        account = AccountFactory(funnel=1)
        engage(account, 1, persona="it", key="demo_request")
        accounts_evaluate(account_ids=[account.pk], now=NOW)
        accounts_evaluate(account_ids=[account.pk], now=NOW + timedelta(minutes=1))
        accounts_evaluate(now=NOW + timedelta(minutes=2))
    finally:
        account_qualified.disconnect(receiver)
    assert received == [account.pk]
    assert MQATransition.objects.filter(account=account).count() == 1
    assert account.history.filter(mqa_status="mqa").count() == 1


def test_dry_run_writes_nothing():
    account = AccountFactory(funnel=1)
    engage(account, 1, persona="it", key="demo_request")
    result = accounts_evaluate(now=NOW, dry_run=True)
    assert status(account) == MQAStatus.NOT_QUALIFIED
    assert account.last_evaluated_at is None
    assert not MQATransition.objects.exists()
    assert [(a.pk, d.status) for a, d in result.would_change] == [(account.pk, "mqa")]


def test_evaluation_uses_a_bounded_number_of_queries(django_assert_max_num_queries, monkeypatch):
    # The engine's own queries: receivers (plays) do their own per-transition work.
    for signal in (account_qualified, accounts_qualified):
        monkeypatch.setattr(signal, "receivers", [])
        monkeypatch.setattr(signal, "sender_receivers_cache", {})
    accounts = AccountFactory.create_batch(30, funnel=2)
    for account in accounts:
        engage(account, 40, persona="it")
        engage(account, 40, persona="sales")
    with django_assert_max_num_queries(30):
        result = accounts_evaluate(account_ids=[a.pk for a in accounts], now=NOW)
    assert len(result.transitions) == 30


def test_default_time_is_now():
    account = AccountFactory(funnel=1)
    engage(account, 1, persona="it", key="demo_request")
    with time_machine.travel(NOW, tick=False):
        accounts_evaluate(account_ids=[account.pk])
    assert status(account) == MQAStatus.MQA
    assert account.qualified_at == NOW
