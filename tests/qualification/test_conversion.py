"""Conversion of an MQA: an opportunity created within N days after the qualification
(qualified_at <= created_at < qualified_at + N days), and its pipeline — the same answer in
SQL over stored transitions and for arbitrary (account, moment) pairs."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from mqaflow.models import MQAStatus, MQATransition
from mqaflow.qualification.outcomes import (
    conversion_annotate,
    conversion_summary,
    conversion_window,
    mqa_conversions,
    mqa_transitions,
)
from tests.factories import AccountFactory, OpportunityFactory

pytestmark = pytest.mark.django_db
AT = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
DAYS = 30


def qualify(account, at=AT):
    return MQATransition.objects.create(
        account=account,
        from_status=MQAStatus.NOT_QUALIFIED,
        to_status=MQAStatus.MQA,
        at=at,
        funnel=account.funnel,
    )


@pytest.fixture
def cases():
    """One account per case, each qualified at AT."""
    made = {}

    def case(name, *offsets_and_amounts):
        account = AccountFactory(domain=f"{name}.example")
        for offset, amount in offsets_and_amounts:
            OpportunityFactory(account=account, created_at=AT + offset, amount=amount)
        made[name] = (account, qualify(account))

    case("same-moment", (timedelta(0), Decimal(100)))
    case("within", (timedelta(days=3), Decimal(100)), (timedelta(days=29), Decimal("50.50")))
    case("within-no-amount", (timedelta(days=1), None))
    case("at-boundary", (timedelta(days=DAYS), Decimal(100)))
    case("just-before-boundary", (timedelta(days=DAYS) - timedelta(seconds=1), Decimal(7)))
    case("before", (timedelta(seconds=-1), Decimal(100)))
    case("none")
    return made


EXPECTED = {
    "same-moment": (True, Decimal(100)),
    "within": (True, Decimal("150.50")),
    "within-no-amount": (True, Decimal(0)),
    "at-boundary": (False, Decimal(0)),
    "just-before-boundary": (True, Decimal(7)),
    "before": (False, Decimal(0)),
    "none": (False, Decimal(0)),
}


def test_annotated_transitions_say_converted_and_pipeline(cases):
    rows = conversion_annotate(mqa_transitions(), days=DAYS)
    got = {t.account.domain.split(".")[0]: (t.converted, t.pipeline) for t in rows}
    assert got == EXPECTED


def test_the_summary_aggregates_in_one_query(cases, django_assert_num_queries):
    with django_assert_num_queries(1):
        summary = conversion_summary(days=DAYS)
    assert (summary.mqas, summary.converted) == (7, 4)
    assert summary.pipeline == Decimal("257.50")
    assert summary.rate == pytest.approx(4 / 7)
    assert conversion_summary(transitions=MQATransition.objects.none(), days=DAYS).rate is None


def test_pairs_give_the_same_answer_in_one_query(cases, django_assert_num_queries):
    pairs = [(account.pk, AT) for account, _ in cases.values()]
    with django_assert_num_queries(1):
        answer = mqa_conversions(pairs=pairs, days=DAYS)
    got = {
        name: (answer[(account.pk, AT)].converted, answer[(account.pk, AT)].pipeline)
        for name, (account, _) in cases.items()
    }
    assert got == EXPECTED
    # a later qualification of the same account has its own window
    later = AT + timedelta(days=10)
    account = cases["within"][0]
    assert mqa_conversions(pairs=[(account.pk, later)], days=DAYS)[
        (account.pk, later)
    ].pipeline == Decimal("50.50")
    assert mqa_conversions(pairs=[], days=DAYS) == {}


@override_settings(TIME_ZONE="Europe/Berlin")
def test_a_qualification_day_counts_from_its_local_midnight():
    account = AccountFactory()
    day = date(2026, 10, 20)
    start, end = conversion_window(day, days=10)
    assert start == datetime(2026, 10, 19, 22, 0, tzinfo=UTC)  # CEST
    assert end == datetime(2026, 10, 29, 23, 0, tzinfo=UTC)  # CET: DST ended meanwhile
    OpportunityFactory(account=account, created_at=start, amount=Decimal(5))
    OpportunityFactory(account=account, created_at=end, amount=Decimal(9))
    OpportunityFactory(account=account, created_at=start - timedelta(seconds=1))
    answer = mqa_conversions(pairs=[(account.pk, day)], days=10)[(account.pk, day)]
    assert answer.converted and answer.pipeline == Decimal(5)
    assert len(answer.opportunity_ids) == 1


def test_days_must_be_positive():
    with pytest.raises(ValueError):
        conversion_annotate(mqa_transitions(), days=0)
