"""The backtest's replay equals the live engine day by day: the engine evaluated at the end
of every day of a period (its transitions) and `replay` give the same MQA spells — first
qualification days, what qualified, the days they stop — for the live set, and for a draft
with other thresholds, weights and bandwidth the same as the engine's statement under it.

The period (America/New_York) crosses the end of daylight saving time; the events sit on
window edges (one at the very last microsecond of a day), a bandwidth period raises the
thresholds for three days, and one spell runs from before the period."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqaflow.models import (
    ActivityType,
    ActivityWeight,
    ActNowRule,
    BandwidthPeriod,
    MQAClause,
    MQARule,
    MQAStatus,
    MQATransition,
    RuleSet,
    SeniorityMultiplier,
    SeniorityWeight,
)
from mqaflow.qualification import backtest
from mqaflow.qualification.backtest import Spell, day_end, replay, replay_naive
from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.qualification.rulebook import Rulebook
from mqaflow.qualification.sql import DecisionQuery
from mqaflow.rulesets import rule_set_copy
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity
from tests.qualification import test_sql as generated

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("America/New_York")  # daylight saving time ends on 2026-11-01
START, END = date(2026, 10, 20), date(2026, 11, 9)
DAYS = [START - timedelta(days=1) + timedelta(days=n) for n in range((END - START).days + 2)]


@pytest.fixture(autouse=True)
def _zone():
    with timezone.override(ZONE):
        yield


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def event(account, contact, key: str, when: datetime) -> None:
    """An event credited as ingest credits it (activity minutes × seniority multiplier)."""
    kind = activity(key)
    multiplier = Decimal(1)
    if contact is not None:
        multiplier = SeniorityMultiplier.objects.get(seniority=contact.seniority).multiplier
    minutes = (kind.minutes * multiplier).quantize(Decimal("0.01"))
    EventFactory(account=account, contact=contact, activity=kind, occurred_at=when, minutes=minutes)


def person(account, seniority: str = "individual", persona: str = "marketing"):
    return ContactFactory(account=account, seniority=seniority, persona=persona)


@pytest.fixture
def history():
    """Accounts of every funnel and size, the default rules plus a persona/lead clause and an
    event-count/persona/seniority clause, a bandwidth period of ×1.5."""
    live = RuleSet.objects.live()
    f3_large = MQARule.objects.get(rule_set=live, funnel=3, size_band__slug="large")
    MQAClause.objects.create(
        rule=f3_large,
        order=2,
        window_days=7,
        personas=["it", "sales"],
        min_seniority="manager",
        min_people=2,
        min_qualified_leads=1,
        lead_minutes=Decimal(20),
    )
    f2_large = MQARule.objects.get(rule_set=live, funnel=2, size_band__slug="large")
    MQAClause.objects.create(
        rule=f2_large,
        order=2,
        window_days=14,
        min_events=3,
        min_personas=2,
        require_seniority="director",
    )
    BandwidthPeriod.objects.create(
        rule_set=live, name="Offsite", starts_on=d(10, 27), ends_on=d(10, 29), factor="1.5"
    )

    # Funnel 1 large: 35 min from 2 people on 10-24; the 10-01 event ages out on 10-31;
    # back on 11-05.
    a1 = AccountFactory(funnel=1, employees=500)
    p, q = person(a1), person(a1)
    event(a1, p, "webinar_attended", at(d(10, 1), 10))
    event(a1, q, "content_download", at(d(10, 24)))
    event(a1, p, "webinar_attended", at(d(11, 5), 23))
    # Funnel 1 small: one event at the very last microsecond of 09-25 (counted through
    # 10-25, gone on 10-26).
    a2 = AccountFactory(funnel=1, employees=100)
    event(a2, person(a2, "director"), "webinar_attended", day_end(d(9, 25)))
    event(a2, person(a2), "web_visit", at(d(10, 20), 0))
    # Funnel 2 large: two people over 60 days, then a director's three events of two
    # personas in 14 days (second clause).
    a3 = AccountFactory(funnel=2, employees=500)
    event(a3, person(a3, "vp"), "content_download", at(d(9, 1)))
    event(a3, person(a3, "manager", "sales"), "webinar_attended", at(d(11, 2), 1))
    a9 = AccountFactory(funnel=2, employees=500)
    director, analyst = person(a9, "director", "it"), person(a9, "individual", "finance")
    event(a9, director, "web_visit", at(d(10, 21)))
    event(a9, analyst, "web_visit", at(d(10, 22)))
    event(a9, director, "web_visit", at(d(10, 26)))
    # Funnel 3 large: the 7-day persona clause (the marketing VP does not count).
    a4 = AccountFactory(funnel=3, employees=900)
    event(a4, person(a4, "manager", "it"), "webinar_attended", at(d(10, 22), 14))
    event(a4, person(a4, "director", "sales"), "web_visit", at(d(10, 23)))
    event(a4, person(a4, "vp", "marketing"), "web_visit", at(d(10, 23)))
    # Act Now: an anonymous demo request; a manager's meeting does not fire, a director's does.
    a5 = AccountFactory(funnel=2, employees=100)
    event(a5, None, "demo_request", at(d(10, 28), 23))
    a7 = AccountFactory(funnel=3, employees=100)
    event(a7, person(a7, "manager"), "meeting_requested", at(d(10, 21)))
    event(a7, person(a7, "director"), "meeting_requested", at(d(11, 2)))
    # Qualified before the period (the spell starts on START - 1), out and back in the
    # bandwidth days, aged out on 11-09.
    a8 = AccountFactory(funnel=1, employees=500)
    event(a8, person(a8), "webinar_attended", at(d(10, 10)))
    event(a8, person(a8), "webinar_attended", at(d(10, 10), 15))
    # A contact back one day after its event left the window (a new island of presence) …
    a10 = AccountFactory(funnel=1, employees=500)
    p = person(a10)
    event(a10, p, "webinar_attended", at(d(9, 20)))
    event(a10, p, "webinar_attended", at(d(10, 21)))
    event(a10, person(a10), "webinar_attended", at(d(10, 5)))
    # … and one back on the very day (the same island: still one person, not two, so the
    # bandwidth days' three people are not met).
    a11 = AccountFactory(funnel=1, employees=500)
    r = person(a11)
    event(a11, r, "web_visit", at(d(9, 25)))
    event(a11, r, "web_visit", at(d(10, 25)))
    event(a11, person(a11), "executive_dinner", at(d(10, 15)))
    # Excluded: never qualifies, whatever it does.
    a6 = AccountFactory(funnel=1, employees=500, excluded=True, excluded_reason="competitor")
    event(a6, None, "demo_request", at(d(10, 25)))
    event(a6, person(a6), "executive_dinner", at(d(10, 25)))
    event(a6, person(a6), "executive_dinner", at(d(10, 25)))
    # Nothing at all.
    AccountFactory(funnel=3, employees=5000)
    return {
        **{"a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5, "a6": a6, "a7": a7, "a8": a8},
        **{"a10": a10, "a11": a11},
    }


def fold(qualified_by_day: list[tuple[date, dict[int, tuple]]]) -> list[Spell]:
    """Spells from each day's qualified accounts (account → rule, clause, Act Now rule)."""
    running: dict[int, tuple[date, tuple]] = {}
    spells = []
    for day, qualified in qualified_by_day:
        for account_id in sorted(set(running) - set(qualified)):
            began, cause = running.pop(account_id)
            spells.append(Spell(account_id, began, day, *cause))
        for account_id, cause in qualified.items():
            running.setdefault(account_id, (day, cause))
    spells += [Spell(a, began, None, *cause) for a, (began, cause) in running.items()]
    return sorted(spells, key=lambda s: (s.account_id, s.start))


def engine_spells() -> list[Spell]:
    """The live engine run at the end of every day, read back from its transitions."""
    for day in DAYS:
        accounts_evaluate(now=day_end(day), cause="test")
    running: dict[int, tuple[date, tuple]] = {}
    spells = []
    for t in MQATransition.objects.order_by("at", "pk"):
        day = timezone.localdate(t.at)
        if t.to_status == MQAStatus.MQA:
            running[t.account_id] = (day, (t.rule_id, t.clause_id, t.act_now_rule_id))
        elif t.from_status == MQAStatus.MQA:
            began, cause = running.pop(t.account_id)
            spells.append(Spell(t.account_id, began, day, *cause))
    spells += [Spell(a, began, None, *cause) for a, (began, cause) in running.items()]
    return sorted(spells, key=lambda s: (s.account_id, s.start))


def statement_spells(rule_set: RuleSet) -> list[Spell]:
    """The engine's statement under `rule_set`, every day, without writing anything."""
    days = []
    for day in DAYS:
        query = DecisionQuery(Rulebook(day, rule_set), day_end(day))
        qualified = {}
        for row in query.rows(None, changed_only=False):
            if row.status == MQAStatus.MQA:
                act_now = row.act_now_rule_id
                cause = (None, None, act_now) if act_now else (row.rule_id, row.clause_id, None)
                qualified[row.account_id] = cause
        days.append((day, qualified))
    return fold(days)


def starts(spells: list[Spell]) -> dict[int, list[date]]:
    found: dict[int, list[date]] = {}
    for s in spells:
        found.setdefault(s.account_id, []).append(s.start)
    return found


def test_day_end_is_the_last_microsecond_of_the_local_day():
    assert day_end(d(11, 1)) == datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=ZONE)
    elapsed = day_end(d(11, 1)).astimezone(UTC) - day_end(d(10, 31)).astimezone(UTC)
    assert elapsed == timedelta(hours=25)  # daylight saving time ends
    assert timezone.localdate(day_end(d(11, 1))) == d(11, 1)


def test_replay_of_the_live_set_equals_the_engine_day_by_day(history, monkeypatch):
    monkeypatch.setattr(backtest, "ACCOUNTS_PER_STATEMENT", 3)  # several slices of accounts
    fractions: list[float] = []
    replayed = replay(
        rule_set=RuleSet.objects.live(), start=START, end=END, progress=fractions.append
    )

    assert replayed == engine_spells()
    # The data set covers what it is meant to (else the equality proves little).
    a = {k: v.pk for k, v in history.items()}
    got = starts(replayed)
    assert got[a["a1"]] == [d(10, 24), d(10, 30), d(11, 5)]  # out for the bandwidth days
    assert got[a["a2"]] == [START]
    assert [s.end for s in replayed if s.account_id == a["a2"]] == [d(10, 26)]
    assert got[a["a8"]] == [START - timedelta(days=1), d(10, 30)]
    assert got[a["a4"]] == [d(10, 23)]
    assert got[a["a10"]] == [START - timedelta(days=1), d(10, 21), d(10, 30)]
    assert got[a["a11"]] == [START - timedelta(days=1), d(10, 30)]
    assert got[a["a5"]] == [d(10, 28)] and got[a["a7"]] == [d(11, 2)]
    act_now = {s.account_id: s.act_now_rule_id for s in replayed if s.act_now_rule_id}
    assert set(act_now) == {a["a5"], a["a7"]}
    assert a["a6"] not in got
    clause_2 = {s.clause_id for s in replayed if s.account_id in (a["a4"], history["a3"].pk)}
    assert MQAClause.objects.filter(order=2, pk__in=clause_2).exists()
    assert len(fractions) > 1 and fractions == sorted(fractions) and fractions[-1] == 1.0


def test_replay_of_a_draft_equals_the_engine_statement_under_it(history):
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live, name="Draft")
    MQAClause.objects.filter(
        rule__rule_set=draft, rule__funnel=1, rule__size_band__slug="large"
    ).update(min_minutes=Decimal(50))
    content = ActivityType.objects.get(key="content_download")
    ActivityWeight.objects.filter(rule_set=draft, activity=content).update(minutes=Decimal(40))
    SeniorityWeight.objects.filter(rule_set=draft, seniority="director").update(multiplier=3)
    BandwidthPeriod.objects.filter(rule_set=draft).update(
        starts_on=d(11, 2), ends_on=d(11, 4), factor=Decimal("0.5")
    )
    ActNowRule.objects.filter(rule_set=draft, activity__key="meeting_requested").update(
        is_active=False
    )
    assert not Rulebook(START, draft).weights.stored

    replayed = replay(rule_set=draft, start=START, end=END)

    assert replayed == statement_spells(draft)
    assert replayed == replay_naive(rule_set=draft, start=START, end=END)
    assert replayed != replay(rule_set=live, start=START, end=END)
    # The draft's weights count: 30 + 40 minutes now pass its 50-minute threshold.
    assert starts(replayed)[history["a1"].pk][0] == d(10, 24)
    # Its meeting rule is off in the draft; the draft's halved thresholds of 11-02 qualify it.
    assert [(s.start, s.act_now_rule_id) for s in replayed if s.account_id == history["a7"].pk] == [
        (d(11, 2), None)
    ]


def test_replay_of_an_empty_period_edge():
    """One day: the day before and the day itself are decided, nothing qualifies."""
    fractions: list[float] = []
    assert (
        replay(rule_set=RuleSet.objects.live(), start=START, end=START, progress=fractions.append)
        == []
    )
    assert fractions[-1] == 1.0
    with pytest.raises(ValueError):
        replay(rule_set=RuleSet.objects.live(), start=START, end=START - timedelta(days=1))


# -- generated rule sets and engagement: the fast replay equals the definition -------------


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule_specs=generated.rules,
    act_now_specs=generated.act_now_rules,
    factor=st.sampled_from([None, Decimal("1.5"), Decimal("0.5")]),
    account_specs=generated.accounts,
    reweigh=st.booleans(),
)
def test_replay_equals_the_daily_definition_on_generated_rules(
    rule_specs, act_now_specs, factor, account_specs, reweigh
):
    """Every clause figure (minutes, events, people, personas, seniority, qualified leads),
    Act Now rules with seniority and two people, a bandwidth period, a draft's own weights,
    events on window edges, in a zone whose days are not UTC's."""
    with timezone.override(ZoneInfo("Asia/Kolkata")), transaction.atomic():
        generated._install(rule_specs, act_now_specs, factor)
        generated._populate(account_specs)
        rule_set = RuleSet.objects.live()
        if reweigh:
            rule_set = rule_set_copy(source=rule_set, name="Reweighed")
            ActivityWeight.objects.filter(rule_set=rule_set, activity=activity("web_visit")).update(
                minutes=Decimal(7)
            )
            SeniorityWeight.objects.filter(rule_set=rule_set, seniority="vp").update(multiplier=3)
        start = generated.NOW.date() - timedelta(days=4)
        end = generated.NOW.date() + timedelta(days=3)
        expected = replay_naive(rule_set=rule_set, start=start, end=end)
        assert replay(rule_set=rule_set, start=start, end=end) == expected
        transaction.set_rollback(True)


def test_one_huge_event_replays_like_the_engine():
    """Ingest accepts explicit minutes up to 99,999,999.99: the replay's hundredths must
    not overflow a 32-bit integer."""
    account = AccountFactory(funnel=2, employees=500)
    for _ in range(2):
        EventFactory(
            account=account,
            contact=ContactFactory(account=account),
            minutes=Decimal("30000000.00"),
            occurred_at=timezone.now() - timedelta(days=3),
        )
    today = timezone.localdate()
    live = RuleSet.objects.live()
    start = today - timedelta(days=6)
    assert replay(rule_set=live, start=start, end=today) == replay_naive(
        rule_set=live, start=start, end=today
    )
    assert [s.account_id for s in replay(rule_set=live, start=start, end=today)] == [account.pk]
