"""The shipped defaults qualify the source's worked examples (docs/rules.md), and only them.

Events go through the real ingest so their minutes are the shipped activity minutes times
the shipped seniority multipliers; the rules are the ones the data migrations installed.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from benchmarks.mqa import lower_bound, naive_evaluate
from mqaflow.ingest import events_ingest
from mqaflow.models import (
    Account,
    ActivityType,
    MQAClause,
    MQAStatus,
    SeniorityMultiplier,
)
from mqaflow.qualification.engine import account_explain, accounts_evaluate
from tests.factories import AccountFactory, ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
_ids = count()

# Who the examples name, as contacts: (seniority, persona).
VP_MARKETING = ("vp", "marketing")
DIRECTOR_SALES_DEVELOPMENT = ("director", "sales")
DEMAND_GEN_MANAGER = ("manager", "marketing")
ANALYST = ("individual", "operations")


def engage(account: Account, who: tuple[str, str], *activities: tuple[str, int]) -> list[dict]:
    """Events of one new contact of `who`'s seniority and persona: (activity key, days ago)."""
    seniority, persona = who
    contact = ContactFactory(account=account, seniority=seniority, persona=persona)
    return [
        {
            "id": f"worked-{next(_ids)}",
            "account": account.domain,
            "contact": contact.email,
            "activity": key,
            "occurred_at": (NOW - timedelta(days=days_ago)).isoformat(),
        }
        for key, days_ago in activities
    ]


def funnel_1_example(account: Account) -> list[dict]:
    return engage(account, VP_MARKETING, ("executive_dinner", 3))


def funnel_2_example(account: Account) -> list[dict]:
    return [
        *engage(account, DIRECTOR_SALES_DEVELOPMENT, ("content_download", 10)),
        *engage(account, DEMAND_GEN_MANAGER, ("content_download", 4)),
    ]


def funnel_3_example(account: Account) -> list[dict]:
    return [
        *engage(account, ("vp", "executive"), ("guide_read", 25)),
        *engage(account, ("director", "it"), ("webinar_attended", 18)),
        *engage(account, ("manager", "finance"), ("booth_visit", 12)),
        *engage(account, ANALYST, *[("web_visit", days) for days in (28, 21, 14, 7, 1)]),
    ]


def one_manager_visit(account: Account) -> list[dict]:
    return engage(account, DEMAND_GEN_MANAGER, ("web_visit", 1))


def ingest(*events: list[dict]) -> None:
    """Through the real ingest: minutes are the shipped activity minutes × multipliers."""
    events_ingest(items=[item for batch in events for item in batch], now=NOW)


def evaluated(*accounts: Account) -> None:
    accounts_evaluate(account_ids=[a.pk for a in accounts], now=NOW)
    for account in accounts:
        account.refresh_from_db()


def test_funnel_1_a_vp_at_an_executive_dinner_qualifies():
    account = AccountFactory(funnel=1, employees=500)
    ingest(funnel_1_example(account))
    evaluated(account)
    assert account.mqa_status == MQAStatus.MQA
    assert account.mqa_clause.name.startswith("Senior executive")
    assert account.mqa_explanation == (
        "Qualified by Funnel 1 (large): 120 minutes from 1 person, most senior VP in the last "
        "30 days (needs 60 from 1, a VP or above)."
    )


def test_funnel_2_a_director_and_a_manager_downloading_content_qualify():
    account = AccountFactory(funnel=2, employees=500)
    ingest(funnel_2_example(account))
    evaluated(account)
    assert account.mqa_status == MQAStatus.MQA
    assert account.mqa_clause.name.startswith("Two departments with a director")
    assert account.mqa_figures["minutes"] == 13.5  # 5 × 1.5 + 5 × 1.2


def test_funnel_3_a_buying_group_with_a_vp_over_a_month_qualifies():
    account = AccountFactory(funnel=3, employees=500)
    ingest(funnel_3_example(account))
    evaluated(account)
    assert account.mqa_status == MQAStatus.MQA
    assert account.mqa_clause.name.startswith("Buying group with a VP")
    # 10 × 2 + 30 × 1.5 + 20 × 1.2 + 5 × 2: short of the 100 minutes of the first clause.
    assert account.mqa_figures["minutes"] == 99
    assert account.mqa_figures["people"] == 4


def test_the_funnel_2_example_does_not_qualify_a_funnel_3_account():
    account = AccountFactory(funnel=3, employees=500)
    ingest(funnel_2_example(account))
    evaluated(account)
    assert account.mqa_status == MQAStatus.NOT_QUALIFIED
    why = account_explain(account=account, now=NOW).explanation
    assert why.startswith("Not qualified under Funnel 3 (large): 13.5 minutes from 2 people")


def test_one_managers_single_web_visit_qualifies_nothing():
    accounts = [
        AccountFactory(funnel=funnel, employees=employees)
        for funnel in (1, 2, 3)
        for employees in (500, 50)
    ]
    ingest(*[one_manager_visit(account) for account in accounts])
    evaluated(*accounts)
    assert {a.mqa_status for a in accounts} == {MQAStatus.NOT_QUALIFIED}


def test_the_examples_are_not_qualified_by_act_now_rules():
    """Each example qualifies by its segment's clause: no Act Now rule (a demo request, a
    director's meeting request) takes any of them."""
    accounts = {n: AccountFactory(funnel=n, employees=500) for n in (1, 2, 3)}
    ingest(
        funnel_1_example(accounts[1]), funnel_2_example(accounts[2]), funnel_3_example(accounts[3])
    )
    evaluated(*accounts.values())
    for account in accounts.values():
        assert account.mqa_status == MQAStatus.MQA
        assert not account.mqa_explanation.startswith("Act Now")


def test_the_thresholds_of_the_first_defaults_are_kept():
    """The source's thresholds (0002) are unchanged; the examples come from added clauses."""
    first = {
        (c.rule.funnel, c.rule.size_band.slug): (
            c.window_days,
            c.min_minutes,
            c.min_people,
            c.min_personas,
            c.require_seniority,
        )
        for c in MQAClause.objects.select_related("rule__size_band").filter(order=1)
    }
    assert first == {
        (1, "large"): (30, Decimal(30), 2, None, ""),
        (1, "small"): (30, Decimal(15), 2, None, ""),
        (2, "large"): (60, Decimal(60), 2, None, ""),
        (2, "small"): (60, Decimal(30), 2, None, ""),
        (3, "large"): (60, Decimal(100), 3, None, ""),
        (3, "small"): (60, Decimal(50), 3, None, ""),
    }
    # Weights are never lowered (that could stop an account qualifying).
    minutes = dict(ActivityType.objects.values_list("key", "minutes"))
    shipped = {
        "web_visit": 2,
        "content_download": 5,
        "webinar_attended": 30,
        "event_visit": 20,
        "executive_dinner": 60,
        "meeting_requested": 30,
        "demo_request": 30,
    }
    assert all(minutes[key] >= value for key, value in shipped.items())
    multipliers = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
    assert multipliers == {
        "c_level": Decimal(2),
        "vp": Decimal(2),
        "director": Decimal("1.5"),
        "manager": Decimal("1.2"),
        "individual": Decimal(1),
    }


def test_the_benchmarks_decide_the_examples_as_the_engine():
    """benchmarks/lower_bound.sql mirrors the default rules (`make bench` stops when it
    disagrees with the engine at scale) and the naive baseline decides alike: this catches
    a drift on the examples and their near misses in every funnel and band."""
    builders = [funnel_1_example, funnel_2_example, funnel_3_example, one_manager_visit]
    owner = OwnerFactory()
    accounts, events = [], []
    for build in builders:
        for funnel in (1, 2, 3):
            for employees in (500, 50):
                account = AccountFactory(funnel=funnel, employees=employees, owner=owner)
                events.append(build(account))
                accounts.append(account)
    ingest(*events)
    evaluated(*accounts)
    engine = {a.pk: a.mqa_status for a in accounts}
    assert lower_bound(NOW) == engine
    naive = {
        a.pk: MQAStatus.MQA if naive_evaluate(a, NOW) else MQAStatus.NOT_QUALIFIED for a in accounts
    }
    assert naive == engine
    assert sum(status == MQAStatus.MQA for status in engine.values()) > len(builders) * 2
