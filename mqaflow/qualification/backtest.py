"""The replay of a rule set over past days: who would have qualified when.

A plain reference replay (one decision statement per day over every account); a faster
engine replaces it with the same interface.
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
    """One stretch of qualification: `start` is the first day qualified, `end` the first day
    no longer (None: still qualified at the period's end)."""

    account_id: int
    start: date
    end: date | None
    rule_id: int | None
    clause_id: int | None
    act_now_rule_id: int | None


def day_end(day: date) -> datetime:
    """The moment a day is decided at: its last instant in the project's time zone."""
    return timezone.make_aware(datetime.combine(day, time.max))


def replay(
    *,
    rule_set: RuleSet,
    start: date,
    end: date,
    progress: Callable[[float], None] | None = None,
) -> list[Spell]:
    """Every spell under `rule_set` from the day before `start` to `end`, as if it had been
    live the whole time. Spells already running the day before `start` start on that day."""
    first = start - timedelta(days=1)
    days = (end - first).days + 1
    open_: dict[int, Spell] = {}
    done: list[Spell] = []
    for i in range(days):
        day = first + timedelta(days=i)
        query = DecisionQuery(Rulebook(day, rule_set), day_end(day))
        qualified = set()
        for row in query.rows(changed_only=False):
            if row.status != MQAStatus.MQA:
                continue
            qualified.add(row.account_id)
            if row.account_id not in open_:
                open_[row.account_id] = Spell(
                    row.account_id, day, None, row.rule_id, row.clause_id, row.act_now_rule_id
                )
        for account_id in [a for a in open_ if a not in qualified]:
            s = open_.pop(account_id)
            done.append(
                Spell(s.account_id, s.start, day, s.rule_id, s.clause_id, s.act_now_rule_id)
            )
        if progress:
            progress((i + 1) / days)
    done.extend(open_.values())
    return sorted(done, key=lambda s: (s.start, s.account_id))
