"""The tuning scorecard: per rule and clause, live and shadow, over a period."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from mqaflow.models import MQAClause, MQARule, MQATransition, RuleSet, ShadowTransition
from mqaflow.rulesets import rule_set_copy
from plays.models import DismissReason, Play
from tests.factories import AccountFactory, OpportunityFactory, UserFactory, qualified_plays
from tuning.scorecard import scorecard_build

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def clause_mqa(owner, at, minutes: float, **fields) -> MQATransition:
    clause = MQAClause.objects.filter(rule__rule_set=RuleSet.objects.live(), rule__funnel=1).first()
    return MQATransition.objects.create(
        account=AccountFactory(owner=owner),
        from_status="not_qualified",
        to_status="mqa",
        at=at,
        rule=clause.rule,
        clause=clause,
        funnel=1,
        size_band="large",
        figures={"minutes": minutes, "people": 2},
        **fields,
    )


@pytest.fixture
def world(org):
    """Over the last 90 days: three Act Now MQAs with plays (one started in time, one
    dismissed, one untouched), two clause MQAs (45 and 250 minutes); one MQA too old to
    count; a draft in shadow with one would-be MQA of 15 minutes. Opportunities convert the
    started play's account (1,000) and the 250-minute one (200); one opportunity came before
    its qualification and converts nothing."""
    now = timezone.now()
    at = now - timedelta(days=10)
    started, dismissed, _ = qualified_plays(org["adr"], 3, at=at)
    Play.objects.filter(pk=started.pk).update(
        status="started", started_at=F("created_at") + timedelta(hours=1)
    )
    Play.objects.filter(pk=dismissed.pk).update(
        status="dismissed",
        dismissed_at=at + timedelta(hours=2),
        dismissed_reason=DismissReason.objects.get(slug="wrong-fit"),
    )
    OpportunityFactory(account=started.account, created_at=at + timedelta(days=5))
    OpportunityFactory(account=dismissed.account, created_at=at - timedelta(days=1), amount=500)
    clause_mqa(org["adr"], now - timedelta(days=3), 45)
    big = clause_mqa(org["adr"], now - timedelta(days=3), 250)
    OpportunityFactory(account=big.account, created_at=now - timedelta(days=1), amount=200)
    clause_mqa(org["adr"], now - timedelta(days=200), 300)  # outside the period
    draft = rule_set_copy(source=RuleSet.objects.live(), name="Lower bar")
    draft.shadow = True
    draft.save()
    draft_clause = MQAClause.objects.filter(rule__rule_set=draft, rule__funnel=1).first()
    shadowed = AccountFactory(owner=org["adr"])
    ShadowTransition.objects.create(
        rule_set=draft,
        account=shadowed,
        from_status="not_qualified",
        to_status="mqa",
        at=now - timedelta(days=2),
        rule=draft_clause.rule,
        clause=draft_clause,
        funnel=1,
        figures={"minutes": 15.0},
    )
    OpportunityFactory(account=shadowed, created_at=now - timedelta(days=1), amount=300)
    return {"now": now, "draft": draft, "org": org}


def test_the_scorecard_counts_mqas_plays_dismissals_conversions_and_pipeline(world):
    now = world["now"]
    live, shadow = scorecard_build(start=now - timedelta(days=90), end=now)

    assert (live.rule_set.status, live.shadow) == ("live", False)
    act_now = next(r for r in live.rows if r.rule.startswith("Act Now"))
    assert (act_now.mqas, act_now.plays, act_now.started_in_sla) == (3, 3, 1)
    assert act_now.dismissed == {DismissReason.objects.get(slug="wrong-fit").label: 1}
    assert (act_now.converted, act_now.pipeline) == (1, Decimal("1000.00"))
    clause = next(r for r in live.rows if not r.rule.startswith("Act Now"))
    assert clause.rule == MQARule.objects.get(pk=clause_rule_pk()).name
    assert (clause.mqas, clause.converted, clause.pipeline) == (2, 1, Decimal("200.00"))
    assert (clause.plays, clause.started_in_sla, clause.dismissed) == (0, 0, {})
    assert (live.total.mqas, live.total.converted, live.total.pipeline) == (
        5,
        2,
        Decimal("1200.00"),
    )

    lift = {row.band: (row.mqas, row.converted) for row in live.lift}
    assert lift == {
        "0–30 min": (0, 0),
        "30–60 min": (1, 0),
        "60–120 min": (0, 0),
        "120–240 min": (0, 0),
        "240+ min": (1, 1),
        "Act Now (no minutes)": (3, 1),
    }

    assert (shadow.rule_set, shadow.shadow) == (world["draft"], True)
    assert [(r.mqas, r.plays, r.converted, r.pipeline) for r in shadow.rows] == [
        (1, None, 1, Decimal("300.00"))
    ]
    assert {row.band: row.mqas for row in shadow.lift}["0–30 min"] == 1


def clause_rule_pk() -> int:
    return MQATransition.objects.filter(clause__isnull=False).values_list("rule", flat=True)[0]


def test_the_page_shows_both_sets_to_staff_and_managers_only(world, client):
    org = world["org"]
    page = login(org["mgr"].user).get("/tuning/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Lower bar (shadow)" in body and "(live)" in body and "240+ min" in body
    assert "Email me the weekly tuning digest" in body
    assert 'href="/tuning/"' in body  # the navigation links it
    staff = UserFactory(is_staff=True)
    assert login(staff).get("/tuning/").status_code == 200
    adr = login(org["adr"].user)
    assert adr.get("/tuning/").status_code == 403
    assert 'href="/tuning/"' not in adr.get("/plays/").content.decode()
    assert adr.post("/tuning/digest/", {"subscribe": "1"}).status_code == 403
    anonymous = client.get("/tuning/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_bad_date_is_named(world):
    staff = login(UserFactory(is_staff=True))
    bad = staff.get("/tuning/", {"from": "yesterday"})
    assert bad.status_code == 400
    assert "From: Must be a date as YYYY-MM-DD" in bad.content.decode()
    reversed_range = staff.get("/tuning/", {"from": "2026-03-01", "to": "2026-02-01"})
    assert reversed_range.status_code == 400
    assert "To: Must be on or after the from date" in reversed_range.content.decode()
