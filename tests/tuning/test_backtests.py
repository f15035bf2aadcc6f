"""Backtests: a draft replayed next to the live set on a small history, its run executed
once, the command and the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from mqaflow.models import BandwidthPeriod, MQAClause, Opportunity, RuleSet
from mqaflow.rulesets import rule_set_copy
from plays.models import DismissReason, Play, PlayStatus
from tests.factories import AccountFactory, ContactFactory, EventFactory, qualified_plays
from tuning import backtests
from tuning.backtests import (
    BacktestError,
    backtest_claim,
    backtest_create,
    backtest_csv_rows,
    backtest_execute,
    backtest_period,
    backtest_request,
)
from tuning.capacity import capacity_shares
from tuning.models import BacktestRun, BacktestStatus
from tuning.tasks import backtest_run

pytestmark = pytest.mark.django_db

# A Wednesday: two weeks back are Monday 2 March – Sunday 15 March.
TODAY = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
WEEK1, WEEK2 = "2026-03-02", "2026-03-09"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def engaged(owner, *, funnel: int, day: int, people: int, minutes: int, name: str):
    """An account of `owner` where `people` contacts each spent `minutes` on `day`."""
    account = AccountFactory(name=name, funnel=funnel, employees=500, owner=owner)
    for _ in range(people):
        EventFactory(
            account=account,
            contact=ContactFactory(account=account),
            occurred_at=at(day),
            minutes=Decimal(minutes),
        )
    return account


def clause(rule_set: RuleSet, name: str) -> MQAClause:
    return MQAClause.objects.get(rule__rule_set=rule_set, rule__name=name, order=1)


@pytest.fixture
def draft():
    """The live rules copied, Funnel 2 (large) lowered to 20 minutes, Funnel 1 (large)
    raised to 50."""
    copy = rule_set_copy(source=RuleSet.objects.live(), name="Lower F2")
    MQAClause.objects.filter(pk=clause(copy, "Funnel 2 (large)").pk).update(min_minutes=20)
    MQAClause.objects.filter(pk=clause(copy, "Funnel 1 (large)").pk).update(min_minutes=50)
    return copy


@pytest.fixture
def history(org):
    """Two Funnel 2 accounts only the draft qualifies (the ADR's, week 1), one Funnel 1
    account only the live set qualifies (week 2), and two real plays of the peer that a demo
    request qualifies under both (week 1), one of them dismissed."""
    adr, peer = org["adr"], org["peer"]
    adr.weekly_play_capacity = 1
    adr.save()
    found = {
        "gained": engaged(adr, funnel=2, day=4, people=2, minutes=15, name="Gained Co"),
        "gained2": engaged(adr, funnel=2, day=4, people=2, minutes=15, name="Gained Two"),
        "lost": engaged(adr, funnel=1, day=10, people=2, minutes=20, name="Lost Co"),
    }
    plays = qualified_plays(peer, 2, at=at(5, 12), funnel=3)
    reason = DismissReason.objects.create(slug="bad-fit", label="Bad fit")
    Play.objects.filter(pk=plays[0].pk).update(
        status=PlayStatus.DISMISSED, dismissed_reason=reason, dismissed_at=at(6)
    )
    return found


def run_of(draft, weeks: int = 2) -> BacktestRun:
    run = backtest_create(rule_set=draft, weeks=weeks)
    done = backtest_execute(run_id=run.pk)
    assert done is not None and done.status == BacktestStatus.DONE, done and done.error
    return done


def test_period_is_whole_weeks_before_today():
    assert backtest_period(weeks=2, today=date(2026, 3, 18)) == (
        date(2026, 3, 2),
        date(2026, 3, 15),
    )
    # On a Monday the week just ended is the last one.
    assert backtest_period(weeks=1, today=date(2026, 3, 16)) == (
        date(2026, 3, 9),
        date(2026, 3, 15),
    )


def test_a_lower_funnel_2_threshold_gains_its_accounts(draft, history):
    run = run_of(draft)
    r = run.results
    assert (run.start, run.end, r["weeks"]) == (date(2026, 3, 2), date(2026, 3, 15), [WEEK1, WEEK2])
    assert r["totals"] == {"draft": 4, "live": 3}
    counts = {(m["week"], m["funnel"], m["size_band"]): (m["draft"], m["live"]) for m in r["mqas"]}
    assert counts == {
        (WEEK1, 1, "large"): (0, 0),
        (WEEK1, 2, "large"): (2, 0),
        (WEEK1, 3, "large"): (2, 2),
        (WEEK2, 1, "large"): (0, 1),
        (WEEK2, 2, "large"): (0, 0),
        (WEEK2, 3, "large"): (0, 0),
    }
    assert r["gained"]["count"] == 2
    gained = r["gained"]["accounts"][0]
    assert (gained["name"], gained["day"], gained["owner"]) == (
        "Gained Co",
        "2026-03-04",
        "Ana ADR",
    )
    assert gained["rule"].startswith("Funnel 2 (large) · ")
    assert gained["sentence"] == (
        "Qualified by Funnel 2 (large): 30 minutes from 2 people in the last 60 days "
        "(needs 20 from 2)."
    )
    assert r["lost"]["count"] == 1
    lost = r["lost"]["accounts"][0]
    assert (lost["name"], lost["day"]) == ("Lost Co", "2026-03-10")
    assert lost["sentence"].startswith(
        "Not qualified under Funnel 1 (large): 40 minutes from 2 people in the last 30 days "
        "(needs 50 from 2) or "
    )


def test_adr_load_flags_the_week_over_capacity(draft, history, org):
    load = run_of(draft).results["load"]
    adr = next(a for a in load["adrs"] if a["owner_id"] == org["adr"].pk)
    assert [(c["draft"], c["live"], c["capacity"], c["over"]) for c in adr["weeks"]] == [
        (2, 0, 1.0, True),
        (0, 1, 1.0, False),
    ]
    peer = next(a for a in load["adrs"] if a["owner_id"] == org["peer"].pk)
    assert [c["over"] for c in peer["weeks"]] == [False, False]
    assert [(w["draft"], w["live"], w["adrs_over"]) for w in load["team"]] == [
        (4, 2, 1),
        (0, 1, 0),
    ]
    assert (load["weeks_over"], load["weeks_over_live"]) == (1, 0)


def test_capacity_is_divided_by_the_bandwidth_factor_of_each_day(draft):
    # ×2 on three days of the week (Mon–Wed): (4 × 1/2 + 3 × 1) / 7 of a normal week.
    BandwidthPeriod.objects.create(
        rule_set=draft,
        name="Fewer ADRs",
        starts_on=date(2026, 3, 2),
        ends_on=date(2026, 3, 4),
        factor=Decimal(2),
    )
    shares = capacity_shares(rule_set=draft, weeks=[date(2026, 3, 2), date(2026, 3, 9)])
    assert shares == pytest.approx([(3 * 0.5 + 4) / 7, 1.0])


def test_dismissal_rate_by_reason_per_rule(draft, history):
    rows = run_of(draft).results["dismissals"]["rows"]
    assert rows == [
        {
            "rule": "Act Now · Demo requested",
            "plays": 2,
            "dismissed": 1,
            "rate": 0.5,
            "reasons": [{"reason": "Bad fit", "count": 1, "rate": 0.5}],
        }
    ]


def test_csv_lists_every_week_and_segment(draft, history):
    rows = list(backtest_csv_rows(run=run_of(draft)))
    assert rows[0] == ["week", "funnel", "size_band", "draft", "live", "difference"]
    assert [WEEK1, 2, "large", 2, 0, 2] in rows
    assert [WEEK2, 1, "large", 0, 1, -1] in rows
    assert len(rows) == 1 + 2 * 3


def opportunity(account_id: int, created_at: datetime, amount: str) -> Opportunity:
    return Opportunity.objects.create(
        external_id=f"opp-{Opportunity.objects.count()}",
        account_id=account_id,
        name="Deal",
        created_at=created_at,
        amount=Decimal(amount),
        currency="USD",
        ingested_at=created_at,
        updated_at=created_at,
    )


def test_conversion_and_pipeline_per_rule_and_clause(draft, history, org):
    """N = 5 days. "Both Co" qualifies on the 4th under the draft and the 10th under the live
    set; its opportunity of the 14th converts it for both."""
    draft.conversion_days = 5
    draft.save()
    both = engaged(org["peer"], funnel=2, day=4, people=2, minutes=15, name="Both Co")
    for _ in range(2):
        EventFactory(
            account=both,
            contact=ContactFactory(account=both),
            occurred_at=at(10),
            minutes=Decimal(20),
        )
    act_now = Play.objects.order_by("pk").first().account_id
    opportunity(both.pk, at(14), "100.00")
    opportunity(history["gained"].pk, at(12), "1000.00")  # 8 days on: too late
    opportunity(history["gained2"].pk, at(8), "500.00")
    opportunity(history["lost"].pk, at(11), "300.00")
    opportunity(act_now, at(6), "2000.00")
    opportunity(act_now, at(2), "9.00")  # before it qualified
    outcomes = run_of(draft).results["outcomes"]
    got = {
        (row["rule"], row["clause"]): {
            side: (row[side]["mqas"], row[side]["converted"], row[side]["pipeline"])
            for side in ("draft", "live")
        }
        for row in outcomes["rows"]
    }
    assert got == {
        ("Act Now", "Demo requested"): {
            "draft": (2, 1, "2000.00"),
            "live": (2, 1, "2000.00"),
        },
        ("Funnel 1 (large)", "30 minutes from 2 people in 30 days"): {
            "draft": (0, 0, "0"),
            "live": (1, 1, "300.00"),
        },
        ("Funnel 2 (large)", "60 minutes from 2 people in 60 days"): {
            "draft": (3, 2, "600.00"),
            "live": (1, 1, "100.00"),
        },
    }
    assert outcomes["totals"]["draft"]["rate"] == 0.6
    assert outcomes["totals"]["live"]["rate"] == 0.75


def test_progress_is_written_on_the_run_as_it_goes(draft, history, monkeypatch):
    from mqaflow.qualification import backtest

    monkeypatch.setattr(backtest, "ACCOUNTS_PER_STATEMENT", 1)  # a slice per account
    run = backtest_create(rule_set=draft, weeks=1)
    seen = []

    def watch(percent):
        stored = BacktestRun.objects.get(pk=run.pk)
        seen.append((percent, stored.progress, stored.status))

    backtest_execute(run_id=run.pk, progress=watch)
    percents = [p for p, _, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100 and len(percents) > 5
    assert all(p == stored for p, stored, _ in seen)
    assert {status for _, _, status in seen[:-1]} == {BacktestStatus.RUNNING}


def test_a_run_is_executed_once(draft, monkeypatch):
    calls = []
    real = backtests.replay
    monkeypatch.setattr(
        backtests, "replay", lambda **kw: calls.append(kw["rule_set"]) or real(**kw)
    )
    run = backtest_create(rule_set=draft, weeks=1)
    assert backtest_run.delay(run.pk).get() == BacktestStatus.DONE
    assert backtest_run.delay(run.pk).get() == "skipped"
    assert len(calls) == 2  # the draft and the live set, once each
    BacktestRun.objects.filter(pk=run.pk).update(status=BacktestStatus.RUNNING)
    assert backtest_execute(run_id=run.pk) is None


def test_a_request_is_executed_after_commit(draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = backtest_request(rule_set=draft, weeks=1)
        assert BacktestRun.objects.get(pk=run.pk).status == BacktestStatus.QUEUED
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert (run.status, run.progress, run.live_set) == (
        BacktestStatus.DONE,
        100,
        RuleSet.objects.live(),
    )


def test_a_failure_is_stored_on_the_run(draft, monkeypatch):
    def broken(**kw):
        raise RuntimeError("replay broke")

    monkeypatch.setattr(backtests, "replay", broken)
    run = backtest_execute(run_id=backtest_create(rule_set=draft, weeks=1).pk)
    assert run is not None
    assert (run.status, run.error) == (BacktestStatus.FAILED, "replay broke")


def test_a_run_keeps_its_results_when_the_set_it_compared_with_is_deleted(draft):
    run = backtest_create(rule_set=draft, weeks=1)
    BacktestRun.objects.filter(pk=run.pk).update(live_set=None)
    failed = backtest_execute(run_id=run.pk)
    assert failed is not None and failed.status == BacktestStatus.FAILED
    assert "deleted" in failed.error


def test_bad_requests_name_their_field(draft):
    with pytest.raises(BacktestError) as weeks:
        backtest_create(rule_set=draft, weeks=0)
    with pytest.raises(BacktestError) as live:
        backtest_create(rule_set=RuleSet.objects.live(), weeks=2)
    assert (weeks.value.field, live.value.field) == ("weeks", "rule_set")
    assert not BacktestRun.objects.exists()


# -- the command ------------------------------------------------------------------------


def test_command_runs_and_summarises(draft, history):
    out, err = StringIO(), StringIO()
    call_command("backtest", "--rule-set", str(draft.pk), "--weeks", "2", stdout=out, stderr=err)
    run = BacktestRun.objects.get()
    text = out.getvalue()
    assert "MQAs: draft 4, live 3" in text
    assert "Accounts gained: 2, lost: 1" in text
    assert "Weeks with an ADR over capacity: draft 1, live 0 (of 2)" in text
    assert f"Run id: {run.pk}" in text
    assert "100%" in err.getvalue()  # the progress bar
    assert run.status == BacktestStatus.DONE


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--rule-set", "999999"], "--rule-set"),
        (["--rule-set", "LIVE"], "--rule-set"),
        (["--rule-set", "DRAFT", "--weeks", "0"], "--weeks"),
    ],
)
def test_command_names_the_bad_flag(draft, args, flag):
    ids = {"LIVE": str(RuleSet.objects.live().pk), "DRAFT": str(draft.pk)}
    with pytest.raises(CommandError, match=f"^{flag}"):
        call_command("backtest", *[ids.get(a, a) for a in args], stdout=StringIO())
    assert not BacktestRun.objects.exists()


# -- the pages --------------------------------------------------------------------------


@pytest.fixture
def staff(client, org):
    user = org["ceo"].user
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_staff_run_a_backtest_from_the_rule_set_page(
    staff, draft, history, django_capture_on_commit_callbacks
):
    page = staff.get(f"/admin/mqaflow/ruleset/{draft.pk}/change/").content.decode()
    assert f'href="/tuning/rule-sets/{draft.pk}/backtests/">Backtest…' in page
    form = staff.get(f"/tuning/rule-sets/{draft.pk}/backtests/")
    assert form.status_code == 200 and 'value="13"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/tuning/rule-sets/{draft.pk}/backtests/", {"weeks": "2"})
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tuning/backtests/{run.pk}/"
    page = staff.get(response["Location"]).content.decode()
    assert "<svg" in page and "Gained Co" in page and "Lost Co" in page
    assert "needs 20 from 2" in page
    assert 'class="num over"' in page  # the ADR's first week
    assert "Bad fit: 1 (50%)" in page
    csv = staff.get(f"/tuning/backtests/{run.pk}/mqas.csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert f"{WEEK1},2,large,2,0,2" in csv.content.decode()
    listed = staff.get(f"/tuning/rule-sets/{draft.pk}/backtests/").content.decode()
    assert f'href="/tuning/backtests/{run.pk}/">#{run.pk}' in listed


def test_a_running_backtest_shows_its_progress(staff, draft):
    run = backtest_create(rule_set=draft, weeks=1)
    BacktestRun.objects.filter(pk=run.pk).update(status=BacktestStatus.RUNNING, progress=42)
    page = staff.get(f"/tuning/backtests/{run.pk}/").content.decode()
    assert '<progress id="progress" max="100" value="42">' in page
    assert 'http-equiv="refresh"' in page
    assert staff.get(f"/tuning/backtests/{run.pk}/status/").json() == {
        "id": run.pk,
        "status": "running",
        "progress": 42,
        "error": "",
    }


def test_bad_weeks_are_refused_and_nothing_is_stored(staff, draft):
    response = staff.post(f"/tuning/rule-sets/{draft.pk}/backtests/", {"weeks": "99"})
    assert response.status_code == 400
    assert "less than or equal to 52" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_non_staff_cannot_see_backtests(client, org, draft):
    run = backtest_create(rule_set=draft, weeks=1)
    client.force_login(org["adr"].user)
    for url in (
        f"/tuning/rule-sets/{draft.pk}/backtests/",
        f"/tuning/backtests/{run.pk}/",
        f"/tuning/backtests/{run.pk}/status/",
        f"/tuning/backtests/{run.pk}/mqas.csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = client.post(f"/tuning/rule-sets/{draft.pk}/backtests/", {"weeks": "1"})
    assert response.status_code == 302
    assert BacktestRun.objects.count() == 1


def test_admin_lists_the_runs(staff, draft):
    run = backtest_create(rule_set=draft, weeks=1)
    page = staff.get("/admin/tuning/backtestrun/").content.decode()
    assert f'href="/tuning/backtests/{run.pk}/">Open' in page
    assert staff.get(f"/admin/tuning/backtestrun/{run.pk}/change/").status_code == 200


def test_one_run_at_a_time_per_set_until_its_worker_goes_silent(draft, staff):
    from datetime import timedelta

    from django.utils import timezone

    first = backtest_create(rule_set=draft, weeks=1)
    with pytest.raises(BacktestError, match=f"#{first.pk}.*still queued") as busy:
        backtest_create(rule_set=draft, weeks=1)
    assert busy.value.field == "rule_set"
    assert backtest_claim(run_id=first.pk) is not None  # running now, alive
    assert backtest_claim(run_id=first.pk) is None
    silent = timezone.now() - timedelta(minutes=11)
    BacktestRun.objects.filter(pk=first.pk).update(heartbeat_at=silent)
    page = staff.get(f"/tuning/backtests/{first.pk}/").content.decode()
    assert "no sign of life" in page and 'http-equiv="refresh"' not in page
    reclaimed = backtest_claim(run_id=first.pk)  # a redelivered message takes it over
    assert reclaimed is not None and reclaimed.heartbeat_at > silent
    BacktestRun.objects.filter(pk=first.pk).update(heartbeat_at=silent)  # lost again
    second = backtest_create(rule_set=draft, weeks=1)  # the silent one no longer blocks
    first.refresh_from_db()
    assert second.pk != first.pk and first.status == BacktestStatus.FAILED
    assert "a new run replaced it" in first.error
    assert backtest_claim(run_id=first.pk) is None  # given up: never run twice


def test_a_message_redelivered_while_the_run_looks_alive_comes_back_later(draft, monkeypatch):
    run = backtest_create(rule_set=draft, weeks=1)
    assert backtest_claim(run_id=run.pk) is not None  # a worker took it, then died
    retried = []

    def retry(**kwargs):
        retried.append(kwargs["countdown"])
        raise RuntimeError("retried")

    monkeypatch.setattr(backtest_run, "retry", retry)
    with pytest.raises(RuntimeError, match="retried"):
        backtest_run.run(run.pk)
    assert retried == [600.0]


def test_running_a_backtest_needs_the_permission(client, org, draft):
    user = org["mgr"].user
    user.is_staff = True
    user.save()
    client.force_login(user)
    url = f"/tuning/rule-sets/{draft.pk}/backtests/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"weeks": "2"}).status_code == 403
    assert not BacktestRun.objects.exists()


def test_two_spells_reaching_one_opportunity_count_its_pipeline_once(draft):
    from mqaflow.qualification.backtest import Spell

    account = AccountFactory(funnel=2, employees=500)
    rule = clause(draft, "Funnel 2 (large)")
    opportunity(account.pk, at(9), "400.00")
    spells = [
        Spell(account.pk, date(2026, 3, 2), date(2026, 3, 4), rule.rule_id, rule.pk, None),
        Spell(account.pk, date(2026, 3, 6), None, rule.rule_id, rule.pk, None),
    ]
    totals = backtests.backtest_outcomes(rule_set=draft, draft=spells, live=[])["totals"]
    assert (totals["draft"]["mqas"], totals["draft"]["converted"]) == (2, 2)
    assert totals["draft"]["pipeline"] == "400.00"
