"""Replaying a rule set over past engagement: every MQA spell it would have produced.

A backtest asks "what if this rule set had been live the whole time?". The answer is the
live engine's own decision (`DecisionQuery`) taken at the end of every day of the period,
with that day's rulebook (its bandwidth period) and the set's weights, folded into spells:
the day an account starts to qualify, the day it stops. Stored statuses are never read nor
written, so a replay changes nothing and can run beside the live engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from mqaflow.models import MQAStatus, RuleSet

from .rulebook import Rulebook
from .sql import DecisionQuery


@dataclass(frozen=True)
class Spell:
    """One stretch of days an account is an MQA under the replayed set."""

    account_id: int
    start: date  # first day (local date) the account is qualified
    end: date | None  # first day it is no longer qualified; None: still at the period's end
    rule_id: int | None  # what qualified it on its first day (as the engine records it)
    clause_id: int | None
    act_now_rule_id: int | None


def day_end(day: date) -> datetime:
    """The moment a day is decided at: its last microsecond in the current time zone, so
    every event of the day counts and the day's bandwidth period applies."""
    return timezone.make_aware(datetime.combine(day, time.max), timezone.get_current_timezone())


def _days(start: date, end: date) -> list[date]:
    first = start - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((end - first).days + 1)]


@dataclass
class _Open:
    start: date
    rule_id: int | None
    clause_id: int | None
    act_now_rule_id: int | None


class _Folder:
    """Turns each day's set of qualified accounts into spells."""

    def __init__(self) -> None:
        self.open: dict[int, _Open] = {}
        self.closed: list[Spell] = []

    def day(self, day: date, qualified: dict[int, tuple[int | None, int | None, int | None]]):
        for account_id in [a for a in self.open if a not in qualified]:
            o = self.open.pop(account_id)
            self.closed.append(
                Spell(account_id, o.start, day, o.rule_id, o.clause_id, o.act_now_rule_id)
            )
        for account_id, (rule_id, clause_id, act_now_rule_id) in qualified.items():
            if account_id not in self.open:
                self.open[account_id] = _Open(day, rule_id, clause_id, act_now_rule_id)

    def spells(self) -> list[Spell]:
        still = [
            Spell(a, o.start, None, o.rule_id, o.clause_id, o.act_now_rule_id)
            for a, o in self.open.items()
        ]
        return sorted(self.closed + still, key=lambda s: (s.account_id, s.start))


def _cause(rule_id, clause_id, act_now_rule_id) -> tuple[int | None, int | None, int | None]:
    """What the engine records on a qualifying transition: the Act Now rule alone, or the
    rule and the clause that passed."""
    if act_now_rule_id is not None:
        return None, None, act_now_rule_id
    return rule_id, clause_id, None


def replay_naive(
    *,
    rule_set: RuleSet,
    start: date,
    end: date,
    progress: Callable[[float], None] | None = None,
) -> list[Spell]:
    """The definition: one full decision per day, exactly the live engine's statement."""
    days = _days(start, end)
    folder = _Folder()
    for n, day in enumerate(days):
        query = DecisionQuery(Rulebook(day, rule_set), day_end(day))
        qualified = {
            row.account_id: _cause(row.rule_id, row.clause_id, row.act_now_rule_id)
            for row in query.rows(None, changed_only=False)
            if row.status == MQAStatus.MQA
        }
        folder.day(day, qualified)
        if progress:
            progress((n + 1) / len(days))
    return folder.spells()


def replay(
    *,
    rule_set: RuleSet,
    start: date,
    end: date,
    progress: Callable[[float], None] | None = None,
) -> list[Spell]:
    """Every MQA spell of every account under `rule_set`, as if it had been live the whole
    time, deciding each day from start-1 to end (inclusive) at `day_end(day)` exactly like
    the live engine (DecisionQuery with Rulebook(day, rule_set)) would. A spell already
    running on start-1 keeps its start = start - 1 day (callers count only spells starting
    within [start, end] as new MQAs). Excluded accounts never qualify. `progress(fraction
    0..1)` is called as work advances."""
    if end < start:
        raise ValueError("end is before start")
    return replay_naive(rule_set=rule_set, start=start, end=end, progress=progress)
