"""Backtests: replay past weeks under a draft rule set and under the live set, side by side.

A run is requested (`backtest_request`: a queued row, its task enqueued after commit), then
executed once (`backtest_execute`: the queued row is claimed with SKIP LOCKED, so a repeated
message finds nothing to do). The replay itself is the qualification engine's
(`mqaflow.qualification.backtest.replay`); this module turns the two lists of spells into
what the weekly tuning meeting argues about, stored on the run as JSON:

- new MQAs per week by funnel × size band (each set's own bands), draft vs live;
- accounts gained and lost, each with the draft's sentence on the day that matters;
- ADR load: a new spell is a new play for the account's owner; an owner's weekly capacity is
  `Owner.weekly_play_capacity` divided by the set's bandwidth factor, averaged over the
  week's days (a factor of 1.5 says ADRs are scarce: thresholds rise ×1.5 and each ADR can
  take 1/1.5 of their usual plays);
- outcomes per rule and clause: conversion to an opportunity within the draft's
  `conversion_days` of the first qualified day, and the pipeline of those opportunities
  (the rule of `mqaflow.qualification.outcomes`);
- dismissals by reason per rule, from the real plays created in the period.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from mqaflow.models import (
    Account,
    ActNowRule,
    Funnel,
    MQAClause,
    MQARule,
    Opportunity,
    RuleSet,
)
from mqaflow.qualification.backtest import Spell, day_end, replay
from mqaflow.qualification.engine import decide_row
from mqaflow.qualification.outcomes import ACCOUNTS_PER_QUERY, mqa_conversions
from mqaflow.qualification.reports import report_bounds
from mqaflow.qualification.rulebook import Rulebook
from mqaflow.qualification.sql import DecisionQuery
from plays.models import Play, PlayStatus
from tuning.capacity import capacity_shares
from tuning.models import MAX_WEEKS, BacktestRun, BacktestStatus
from tuning.models.backtests import STALLED_AFTER

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None
Progress = Callable[[int], None]

# Accounts listed (with their sentence) among the gained and the lost; the counts are whole.
LISTED_ACCOUNTS = 200
NO_OWNER = "(no owner)"


def _user(user: User) -> Any:
    return user if user is not None and user.is_authenticated else None


class BacktestError(ValueError):
    """A backtest cannot be requested as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- requesting and running ---------------------------------------------------------------


def backtest_period(*, weeks: int, today: date) -> tuple[date, date]:
    """The last `weeks` whole weeks (Monday to Sunday) before `today`."""
    end = today - timedelta(days=today.isoweekday())
    return end - timedelta(days=7 * weeks - 1), end


@transaction.atomic
def backtest_create(
    *, rule_set: RuleSet, weeks: int = 13, user: User = None, now: datetime | None = None
) -> BacktestRun:
    """A queued run of `rule_set` against the set live now, over the last `weeks` weeks."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise BacktestError("weeks", f"weeks must be a whole number from 1 to {MAX_WEEKS}.")
    if rule_set.is_live:
        raise BacktestError(
            "rule_set", f"“{rule_set.name}” is the live set: backtest a draft against it."
        )
    now = now or timezone.now()
    # One at a time per set (each replays every account twice): the set's row is locked so
    # two requests cannot both find none active; a silent predecessor is given up on.
    RuleSet.objects.select_for_update().filter(pk=rule_set.pk).exists()
    active = BacktestRun.objects.filter(
        rule_set=rule_set, status__in=[BacktestStatus.QUEUED, BacktestStatus.RUNNING]
    )
    for run in active.order_by("-pk"):
        if not run.is_stalled:
            raise BacktestError(
                "rule_set", f"Backtest #{run.pk} of “{rule_set.name}” is still {run.status}."
            )
        BacktestRun.objects.filter(pk=run.pk, status=run.status).update(
            status=BacktestStatus.FAILED,
            error="No worker finished it (lost or never started); a new run replaced it.",
            finished_at=now,
        )
    start, end = backtest_period(weeks=weeks, today=timezone.localdate(now))
    return BacktestRun.objects.create(
        rule_set=rule_set,
        live_set=RuleSet.objects.live(),
        weeks=weeks,
        start=start,
        end=end,
        created_by=_user(user),
        created_at=now,
    )


def backtest_request(
    *, rule_set: RuleSet, weeks: int = 13, user: User = None, now: datetime | None = None
) -> BacktestRun:
    """Create a run and have a worker execute it once the row is committed."""
    from mqaflow.broker import publish

    from .tasks import backtest_run

    with transaction.atomic():
        run = backtest_create(rule_set=rule_set, weeks=weeks, user=user, now=now)
        transaction.on_commit(partial(publish, backtest_run, run.pk))
    return run


def backtest_is_running(*, run_id: int) -> bool:
    return BacktestRun.objects.filter(pk=run_id, status=BacktestStatus.RUNNING).exists()


def backtest_claim(*, run_id: int, now: datetime | None = None) -> BacktestRun | None:
    """Take a queued run for this process (None when it is not queued, or another process
    holds it): a run is executed once however many messages ask for it. A running run whose
    worker went silent for STALLED_AFTER (killed mid-run) may be taken again."""
    now = now or timezone.now()
    lost = Q(status=BacktestStatus.RUNNING, heartbeat_at__lt=now - STALLED_AFTER)
    with transaction.atomic():
        run = (
            BacktestRun.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(Q(status=BacktestStatus.QUEUED) | lost, pk=run_id)
            .select_related("rule_set", "live_set")
            .first()
        )
        if run is None:
            return None
        run.status = BacktestStatus.RUNNING
        run.started_at = run.heartbeat_at = now
        run.progress = 0
        run.save(update_fields=["status", "started_at", "heartbeat_at", "progress"])
    return run


class _Reporter:
    """Writes the percentage done on the run row (when it moves) and tells `also`."""

    def __init__(self, run: BacktestRun, also: Progress | None) -> None:
        self.run = run
        self.also = also
        self.percent = 0

    def __call__(self, percent: int) -> None:
        percent = max(0, min(100, percent))
        if percent == self.percent:
            return
        self.percent = percent
        BacktestRun.objects.filter(pk=self.run.pk).update(
            progress=percent, heartbeat_at=timezone.now()
        )
        if self.also:
            self.also(percent)

    def phase(self, low: int, high: int) -> Callable[[float], None]:
        """A replay's 0–1 fraction mapped onto [low, high] percent."""
        return lambda fraction: self(low + int((high - low) * fraction))


def backtest_execute(*, run_id: int, progress: Progress | None = None) -> BacktestRun | None:
    """Claim the queued run, replay both sets, store the results. None when the run was not
    queued (already done, or being done elsewhere). A failure is stored on the run."""
    run = backtest_claim(run_id=run_id)
    if run is None:
        return None
    report = _Reporter(run, progress)
    live_set = run.live_set
    try:
        if live_set is None:
            raise BacktestError("live_set", "The live set to compare with has been deleted.")
        draft = replay(
            rule_set=run.rule_set, start=run.start, end=run.end, progress=report.phase(0, 45)
        )
        live = replay(
            rule_set=live_set, start=run.start, end=run.end, progress=report.phase(45, 90)
        )
        results = backtest_summarise(run=run, live_set=live_set, draft=draft, live=live)
    except Exception as error:
        logger.exception("backtest %s failed", run.pk)
        BacktestRun.objects.filter(pk=run.pk).update(
            status=BacktestStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        run.refresh_from_db()
        return run
    BacktestRun.objects.filter(pk=run.pk).update(
        status=BacktestStatus.DONE, progress=100, results=results, finished_at=timezone.now()
    )
    report(100)
    run.refresh_from_db()
    return run


# -- the results --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """The period and what both sides share about its accounts."""

    start: date
    end: date
    weeks: list[date]
    accounts: dict[int, dict[str, Any]]

    def week_of(self, day: date) -> date:
        return self.weeks[(day - self.start).days // 7]

    def is_new(self, spell: Spell) -> bool:
        return self.start <= spell.start <= self.end


def backtest_summarise(
    *, run: BacktestRun, live_set: RuleSet, draft: list[Spell], live: list[Spell]
) -> dict[str, Any]:
    """The stored results of a run from the spells each set produced."""
    accounts = _accounts(sorted({s.account_id for s in draft} | {s.account_id for s in live}))
    frame = _Frame(
        start=run.start,
        end=run.end,
        weeks=[
            run.start + timedelta(days=7 * i) for i in range((run.end - run.start).days // 7 + 1)
        ],
        accounts=accounts,
    )
    # An account deleted since the replay is left out of every figure.
    draft = [s for s in draft if s.account_id in accounts]
    live = [s for s in live if s.account_id in accounts]
    new_draft = [s for s in draft if frame.is_new(s)]
    new_live = [s for s in live if frame.is_new(s)]
    return {
        "start": run.start.isoformat(),
        "end": run.end.isoformat(),
        "weeks": [w.isoformat() for w in frame.weeks],
        "totals": {"draft": len(new_draft), "live": len(new_live)},
        "mqas": _mqas_per_week(frame, run.rule_set, live_set, new_draft, new_live),
        **_gained_lost(frame, run, draft, live),
        "load": _load(frame, run.rule_set, live_set, new_draft, new_live),
        "outcomes": backtest_outcomes(rule_set=run.rule_set, draft=new_draft, live=new_live),
        "dismissals": _dismissals(frame),
    }


def _accounts(ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the results say of each account, in chunks of ids (a quarter's replay may
    qualify tens of thousands: more than one statement's parameters)."""
    found: dict[int, dict[str, Any]] = {}
    for first in range(0, len(ids), ACCOUNTS_PER_QUERY):
        rows = Account.objects.filter(pk__in=ids[first : first + ACCOUNTS_PER_QUERY]).values(
            "pk",
            "name",
            "domain",
            "funnel",
            "employees",
            "owner_id",
            "owner__name",
            "owner__weekly_play_capacity",
        )
        found.update((row["pk"], dict(row)) for row in rows)
    return found


def _funnel_label(funnel: int) -> str:
    return Funnel(funnel).label.split(" (")[0] if funnel in Funnel.values else f"Funnel {funnel}"


def _mqas_per_week(
    frame: _Frame, rule_set: RuleSet, live_set: RuleSet, draft: list[Spell], live: list[Spell]
) -> list[dict[str, Any]]:
    """One row per week and segment that has a new MQA on either side (zeros filled in)."""
    counts: dict[tuple[str, int, str], Counter] = defaultdict(Counter)
    for side, one_set, spells in (("draft", rule_set, draft), ("live", live_set, live)):
        rulebook = Rulebook(frame.end, one_set)
        for spell in spells:  # the new ones
            account = frame.accounts[spell.account_id]
            band = rulebook.band_for(account["employees"])
            segment = (account["funnel"], band.slug if band else "")
            counts[(frame.week_of(spell.start).isoformat(), *segment)][side] += 1
    segments = sorted({(funnel, band) for _, funnel, band in counts})
    return [
        {
            "week": week.isoformat(),
            "funnel": funnel,
            "funnel_label": _funnel_label(funnel),
            "size_band": band,
            "draft": counts[(week.isoformat(), funnel, band)]["draft"],
            "live": counts[(week.isoformat(), funnel, band)]["live"],
        }
        for week in frame.weeks
        for funnel, band in segments
    ]


def backtest_csv_rows(*, run: BacktestRun) -> Iterable[list[Any]]:
    """The MQAs-per-week table as CSV rows, header first."""
    yield ["week", "funnel", "size_band", "draft", "live", "difference"]
    for row in (run.results or {}).get("mqas", []):
        yield [
            row["week"],
            row["funnel"],
            row["size_band"],
            row["draft"],
            row["live"],
            row["draft"] - row["live"],
        ]


def _first_days(spells: list[Spell]) -> dict[int, Spell]:
    """Each account's first spell."""
    found: dict[int, Spell] = {}
    for spell in sorted(spells, key=lambda s: s.start):
        found.setdefault(spell.account_id, spell)
    return found


def _gained_lost(
    frame: _Frame, run: BacktestRun, draft: list[Spell], live: list[Spell]
) -> dict[str, Any]:
    """Accounts qualified at some time in the period under one set and never under the other,
    each explained by the draft on the first day that matters (its own first qualified day
    for a gained account; the live set's for a lost one: why the draft did not qualify it)."""

    # A spell that ended on the period's first day was qualified only the day before it.
    def inside(spells: list[Spell]) -> list[Spell]:
        return [s for s in spells if s.end is None or s.end > frame.start]

    under_draft, under_live = _first_days(inside(draft)), _first_days(inside(live))
    gained = sorted(set(under_draft) - set(under_live), key=lambda pk: (under_draft[pk].start, pk))
    lost = sorted(set(under_live) - set(under_draft), key=lambda pk: (under_live[pk].start, pk))
    listed = {
        "gained": [(pk, under_draft[pk]) for pk in gained[:LISTED_ACCOUNTS]],
        "lost": [(pk, under_live[pk]) for pk in lost[:LISTED_ACCOUNTS]],
    }
    sentences = _sentences(
        run.rule_set, [(pk, s.start) for rows in listed.values() for pk, s in rows]
    )
    names = _rule_names(draft + live)
    found: dict[str, Any] = {}
    for side, rows in listed.items():
        accounts = []
        for pk, spell in rows:
            account = frame.accounts[pk]
            accounts.append(
                {
                    "id": pk,
                    "name": account["name"],
                    "domain": account["domain"],
                    "funnel": account["funnel"],
                    "owner": account["owner__name"] or NO_OWNER,
                    "day": spell.start.isoformat(),
                    "rule": " · ".join(names[_rule_key(spell)]),
                    "sentence": sentences.get((pk, spell.start), ""),
                }
            )
        found[side] = {"count": len(gained if side == "gained" else lost), "accounts": accounts}
    return found


def _sentences(rule_set: RuleSet, wanted: list[tuple[int, date]]) -> dict[tuple[int, date], str]:
    """The engine's sentence under `rule_set` for each (account, day): one decision
    statement per distinct day, over that day's accounts."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for pk, day in wanted:
        by_day[day].append(pk)
    found = {}
    for day, ids in sorted(by_day.items()):
        query = DecisionQuery(Rulebook(day, rule_set), day_end(day))
        for row in list(query.rows(ids, changed_only=False)):
            found[(row.account_id, day)] = decide_row(query=query, row=row).explanation
    return found


def _rule_key(spell: Spell) -> tuple[str, int | None, int | None]:
    if spell.act_now_rule_id is not None:
        return ("act_now", spell.act_now_rule_id, None)
    return ("rule", spell.rule_id, spell.clause_id)


def _rule_names(spells: list[Spell]) -> dict[tuple[str, int | None, int | None], tuple[str, str]]:
    """(rule, clause) labels by spell key. Names, not ids, are what a draft and the set it
    was copied from share, so the two sides line up by name."""
    rules = dict(
        MQARule.objects.filter(pk__in={s.rule_id for s in spells}).values_list("pk", "name")
    )
    clauses = {
        pk: name or f"clause {order}"
        for pk, name, order in MQAClause.objects.filter(
            pk__in={s.clause_id for s in spells}
        ).values_list("pk", "name", "order")
    }
    act_now = dict(
        ActNowRule.objects.filter(pk__in={s.act_now_rule_id for s in spells}).values_list(
            "pk", "name"
        )
    )
    found: dict[tuple[str, int | None, int | None], tuple[str, str]] = {}
    for spell in spells:
        key = _rule_key(spell)
        if key[0] == "act_now":
            found[key] = ("Act Now", act_now.get(spell.act_now_rule_id or 0, "(deleted rule)"))
        else:
            found[key] = (
                rules.get(spell.rule_id, "(no rule)") if spell.rule_id else "(no rule)",
                clauses.get(spell.clause_id, "") if spell.clause_id else "",
            )
    return found


# -- ADR load -----------------------------------------------------------------------------


def _load(
    frame: _Frame, rule_set: RuleSet, live_set: RuleSet, draft: list[Spell], live: list[Spell]
) -> dict[str, Any]:
    """New plays (one per new spell) per owner per week on each side, against the owner's
    capacity that week."""
    plays: dict[tuple[int | None, str], Counter] = defaultdict(Counter)
    for side, spells in (("draft", draft), ("live", live)):
        for spell in spells:
            owner = frame.accounts[spell.account_id]["owner_id"]
            plays[(owner, side)][frame.week_of(spell.start)] += 1
    shares = {
        "draft": capacity_shares(rule_set=rule_set, weeks=frame.weeks),
        "live": capacity_shares(rule_set=live_set, weeks=frame.weeks),
    }
    owners: dict[int | None, tuple[str, int | None]] = {}
    for account in frame.accounts.values():
        owners[account["owner_id"]] = (
            account["owner__name"] or NO_OWNER,
            account["owner__weekly_play_capacity"],
        )
    adrs = []
    team: list[dict[str, Any]] = [
        {"week": w.isoformat(), "draft": 0, "live": 0, "capacity": 0.0, "live_capacity": 0.0}
        for w in frame.weeks
    ]
    for owner_id in sorted({o for o, _ in plays}, key=lambda o: (o is None, owners[o][0])):
        name, capacity = owners[owner_id]
        cells = []
        for i, week in enumerate(frame.weeks):
            d, lv = plays[(owner_id, "draft")][week], plays[(owner_id, "live")][week]
            cell: dict[str, Any] = {"draft": d, "live": lv, "capacity": None, "over": False}
            team[i]["draft"] += d
            team[i]["live"] += lv
            if owner_id is not None and capacity is not None:
                cap = round(capacity * shares["draft"][i], 1)
                live_cap = round(capacity * shares["live"][i], 1)
                cell.update(capacity=cap, over=d > cap, live_over=lv > live_cap)
                team[i]["capacity"] += cap
                team[i]["live_capacity"] += live_cap
            cells.append(cell)
        adrs.append(
            {
                "owner_id": owner_id,
                "name": name,
                "weekly_capacity": capacity if owner_id is not None else None,
                "weeks": cells,
                "draft": sum(c["draft"] for c in cells),
                "live": sum(c["live"] for c in cells),
                "over_weeks": sum(1 for c in cells if c["over"]),
            }
        )
    for i, row in enumerate(team):
        row["capacity"] = round(row["capacity"], 1)
        row["live_capacity"] = round(row["live_capacity"], 1)
        row["adrs_over"] = sum(1 for a in adrs if a["weeks"][i]["over"])
        row["adrs_over_live"] = sum(1 for a in adrs if a["weeks"][i].get("live_over"))
    return {
        "adrs": adrs,
        "team": team,
        "weeks_over": sum(1 for row in team if row["adrs_over"]),
        "weeks_over_live": sum(1 for row in team if row["adrs_over_live"]),
        "cells_over": sum(a["over_weeks"] for a in adrs),
    }


# -- outcomes -----------------------------------------------------------------------------


def backtest_outcomes(
    *, rule_set: RuleSet, draft: list[Spell], live: list[Spell]
) -> dict[str, Any]:
    """Per rule and clause, draft vs live: new MQAs, how many converted and their pipeline,
    by the project's one conversion rule (`mqaflow.qualification.outcomes`) with the draft's
    N for both sides.

    A replayed MQA is measured from its first qualified day. An account qualified under both
    sets is also measured from the later of its two first days, so an account the draft
    qualifies earlier than the live set, and that later got an opportunity, counts as
    converted for both (its pipeline counts each opportunity once)."""
    days = rule_set.conversion_days
    later: dict[int, date] = {}
    for side_spells in (draft, live):
        for account_id, spell in _first_days(side_spells).items():
            later[account_id] = max(later.get(account_id, spell.start), spell.start)
    moments = {
        s: [s.start] + ([later[s.account_id]] if later[s.account_id] > s.start else [])
        for s in draft + live
    }
    conversions = mqa_conversions(
        pairs={(s.account_id, day) for s, days_ in moments.items() for day in days_}, days=days
    )
    opportunities = {
        s: {pk for day in days_ for pk in conversions[(s.account_id, day)].opportunity_ids}
        for s, days_ in moments.items()
    }
    amounts = dict(
        Opportunity.objects.filter(pk__in=set().union(*opportunities.values())).values_list(
            "pk", "amount"
        )
    )
    names = _rule_names(draft + live)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    totals = {side: _outcome() for side in ("draft", "live")}
    for side, side_spells in (("draft", draft), ("live", live)):
        for spell in side_spells:
            label = names[_rule_key(spell)]
            row = rows.setdefault(
                label,
                {"rule": label[0], "clause": label[1], "draft": _outcome(), "live": _outcome()},
            )
            found = opportunities[spell]
            for figures in (row[side], totals[side]):
                figures["mqas"] += 1
                figures["converted"] += 1 if found else 0
                # an opportunity two spells of one account both reach is pipeline once
                fresh = found - figures["counted"]
                figures["counted"] |= fresh
                figures["pipeline"] += sum((amounts[pk] or Decimal(0) for pk in fresh), Decimal(0))
    for figures in [*totals.values(), *(r[side] for r in rows.values() for side in totals)]:
        del figures["counted"]
        figures["rate"] = (
            round(figures["converted"] / figures["mqas"], 3) if figures["mqas"] else None
        )
        figures["pipeline"] = str(figures["pipeline"])
    return {"conversion_days": days, "rows": [rows[k] for k in sorted(rows)], "totals": totals}


def _outcome() -> dict[str, Any]:
    return {"mqas": 0, "converted": 0, "pipeline": Decimal(0), "counted": set()}


# -- dismissals ---------------------------------------------------------------------------


def _dismissals(frame: _Frame) -> dict[str, Any]:
    """Real plays created in the period, by the rule of the transition that created them:
    how many, and how many were dismissed for each reason."""
    first, after = report_bounds(frame.start, frame.end)
    grouped = (
        Play.objects.filter(created_at__gte=first, created_at__lt=after)
        .values(
            "transition__rule__name",
            "transition__act_now_rule__name",
            "status",
            "dismissed_reason__label",
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_rule: dict[str, dict[str, Any]] = {}
    for g in grouped:
        if g["transition__act_now_rule__name"]:
            rule = f"Act Now · {g['transition__act_now_rule__name']}"
        else:
            rule = g["transition__rule__name"] or "(no rule)"
        row = per_rule.setdefault(rule, {"rule": rule, "plays": 0, "dismissed": 0, "reasons": {}})
        row["plays"] += g["n"]
        if g["status"] == PlayStatus.DISMISSED:
            row["dismissed"] += g["n"]
            reason = g["dismissed_reason__label"] or "(no reason)"
            row["reasons"][reason] = row["reasons"].get(reason, 0) + g["n"]
    rows = []
    for rule in sorted(per_rule):
        row = per_rule[rule]
        rows.append(
            {
                "rule": rule,
                "plays": row["plays"],
                "dismissed": row["dismissed"],
                "rate": round(row["dismissed"] / row["plays"], 3),
                "reasons": [
                    {"reason": reason, "count": n, "rate": round(n / row["plays"], 3)}
                    for reason, n in sorted(row["reasons"].items(), key=lambda r: (-r[1], r[0]))
                ],
            }
        )
    return {"rows": rows}
