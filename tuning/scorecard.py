"""The scorecard of the weekly tuning meeting: what each rule and clause produced over a
period, for the live rules and for every draft running in shadow, side by side.

Per rule and clause: MQAs (transitions to "mqa": `MQATransition` for the live rules,
`ShadowTransition` for a draft), their plays started within the SLA (only live MQAs have
plays), the plays dismissed by reason, the MQAs converted to an opportunity within the
set's `conversion_days` and their pipeline (`mqaflow.qualification.outcomes`). The lift
table splits the MQAs by the minutes that qualified them (the `minutes` of the transition's
figures; an Act Now qualification has none) to show where conversion jumps.

Every figure is an aggregate query grouped by rule and clause (or by band); Python only
merges the few grouped rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from mqaflow.models import MQAStatus, MQATransition, RuleSet, RuleSetStatus, ShadowTransition
from mqaflow.qualification.outcomes import conversion_annotate, mqa_transitions
from plays.models import PlayStatus
from plays.selectors import is_manager

# Lower bounds of the lift table's bands of qualifying minutes; the last band is open.
MINUTES_BANDS = (0, 30, 60, 120, 240)
ACT_NOW_BAND = "Act Now (no minutes)"

_GROUP = (
    "rule_id",
    "rule__name",
    "clause_id",
    "clause__name",
    "clause__order",
    "act_now_rule_id",
    "act_now_rule__name",
    "rule__rule_set__name",
    "rule__rule_set_id",
    "act_now_rule__rule_set__name",
    "act_now_rule__rule_set_id",
)


def can_tune(*, user: Any) -> bool:
    """Staff and managers (owners with reports, as the team board decides) see the lab."""
    if not user.is_authenticated:
        return False
    return bool(user.is_staff) or is_manager(owner=getattr(user, "owner", None))


def band_label(index: int) -> str:
    if index < 0:
        return ACT_NOW_BAND
    low = MINUTES_BANDS[index]
    if index + 1 < len(MINUTES_BANDS):
        return f"{low}–{MINUTES_BANDS[index + 1]} min"
    return f"{low}+ min"


@dataclass
class RuleRow:
    """One rule and clause (or Act Now rule) of a set over the period."""

    rule: str
    clause: str
    mqas: int = 0
    plays: int | None = None
    started_in_sla: int | None = None
    dismissed: dict[str, int] = field(default_factory=dict)
    converted: int = 0
    pipeline: Decimal = Decimal(0)

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.mqas if self.mqas else None

    @property
    def sla_rate(self) -> float | None:
        if not self.plays or self.started_in_sla is None:
            return None
        return self.started_in_sla / self.plays

    @property
    def dismissed_total(self) -> int:
        return sum(self.dismissed.values())


@dataclass(frozen=True)
class LiftRow:
    band: str
    mqas: int
    converted: int

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.mqas if self.mqas else None


@dataclass
class SetScore:
    """The scorecard of one rule set: the live rules, or a draft in shadow."""

    rule_set: RuleSet
    shadow: bool
    rows: list[RuleRow]
    lift: list[LiftRow]
    total: RuleRow

    @property
    def label(self) -> str:
        return f"{self.rule_set.name} ({'shadow' if self.shadow else 'live'})"


def _key(row: dict) -> tuple:
    return row["rule_id"], row["clause_id"], row["act_now_rule_id"]


def _names(row: dict, rule_set: RuleSet) -> tuple[str, str]:
    """Rule and clause as shown; a rule of another set (the period saw a promotion) says so."""
    if row["act_now_rule_id"] is not None:
        return (
            f"Act Now: {row['act_now_rule__name']}{_other_set(row, 'act_now_rule', rule_set)}",
            "—",
        )
    if row["rule_id"] is None:
        return "(rule deleted)", "—"
    clause = row["clause__name"] or (
        f"clause {row['clause__order']}" if row["clause_id"] else "(clause deleted)"
    )
    return f"{row['rule__name']}{_other_set(row, 'rule', rule_set)}", clause


def _other_set(row: dict, prefix: str, rule_set: RuleSet) -> str:
    found = row[f"{prefix}__rule_set_id"]
    return "" if found in (None, rule_set.pk) else f" (of “{row[f'{prefix}__rule_set__name']}”)"


def _minutes_band() -> tuple[Case, Cast]:
    """(band index, minutes): the band of the qualifying minutes, -1 without minutes."""
    minutes = Cast(KT("figures__minutes"), FloatField())
    whens = [When(minutes__gte=low, then=Value(i)) for i, low in enumerate(MINUTES_BANDS)]
    return Case(*reversed(whens), default=Value(-1), output_field=IntegerField()), minutes


def _lift(qs: QuerySet, *, days: int) -> list[LiftRow]:
    band, minutes = _minutes_band()
    rows = (
        conversion_annotate(qs, days=days)
        .annotate(minutes=minutes)
        .annotate(band=band)
        .values("band")
        .annotate(mqas=Count("pk"), converted=Count("pk", filter=Q(converted=True)))
        .order_by("band")
    )
    found = {r["band"]: r for r in rows}
    order = [*range(len(MINUTES_BANDS)), -1]
    return [
        LiftRow(band_label(i), found[i]["mqas"], found[i]["converted"])
        if i in found
        else LiftRow(band_label(i), 0, 0)
        for i in order
        if i in found or i >= 0
    ]


def _score(qs: QuerySet, *, rule_set: RuleSet, shadow: bool, days: int) -> SetScore:
    rows: dict[tuple, RuleRow] = {}
    plays: dict[str, Any] = {}
    if not shadow:
        in_sla = Q(play__started_at__isnull=False, play__started_at__lte=F("play__due_at"))
        plays = {"plays": Count("play"), "started_in_sla": Count("play", filter=in_sla)}
    grouped = (
        conversion_annotate(qs, days=days)
        .values(*_GROUP)
        .annotate(
            mqas=Count("pk"),
            converted=Count("pk", filter=Q(converted=True)),
            pipeline=Sum("pipeline"),
            **plays,
        )
        .order_by("rule__name", "clause__order", "act_now_rule__name")
    )
    for r in grouped:
        rule, clause = _names(r, rule_set)
        rows[_key(r)] = RuleRow(
            rule=rule,
            clause=clause,
            mqas=r["mqas"],
            plays=r.get("plays"),
            started_in_sla=r.get("started_in_sla"),
            converted=r["converted"],
            pipeline=r["pipeline"] or Decimal(0),
        )
    if not shadow:
        dismissed = (
            qs.filter(play__status=PlayStatus.DISMISSED)
            .values(
                "rule_id", "clause_id", "act_now_rule_id", reason=F("play__dismissed_reason__label")
            )
            .annotate(n=Count("pk"))
            .order_by("reason")
        )
        for r in dismissed:
            row = rows.get(_key(r))
            if row is not None:
                row.dismissed[r["reason"] or "(no reason)"] = r["n"]
    total = RuleRow(rule="All rules", clause="", plays=None if shadow else 0)
    reasons: dict[str, int] = defaultdict(int)
    for row in rows.values():
        total.mqas += row.mqas
        total.converted += row.converted
        total.pipeline += row.pipeline
        if not shadow:
            total.plays = (total.plays or 0) + (row.plays or 0)
            total.started_in_sla = (total.started_in_sla or 0) + (row.started_in_sla or 0)
        for reason, n in row.dismissed.items():
            reasons[reason] += n
    total.dismissed = dict(sorted(reasons.items()))
    return SetScore(
        rule_set=rule_set,
        shadow=shadow,
        rows=list(rows.values()),
        lift=_lift(qs, days=days),
        total=total,
    )


def live_mqas(*, start: datetime, end: datetime) -> QuerySet[MQATransition]:
    """The live qualifications of [start, end)."""
    return mqa_transitions().filter(at__gte=start, at__lt=end)


def shadow_mqas(*, rule_set: RuleSet, start: datetime, end: datetime) -> QuerySet:
    """The qualifications a draft in shadow would have made in [start, end)."""
    return ShadowTransition.objects.filter(
        rule_set=rule_set, to_status=MQAStatus.MQA, at__gte=start, at__lt=end
    )


def scorecard_sets(*, start: datetime, end: datetime) -> list[RuleSet]:
    """The drafts to show: those in shadow now, and those that recorded in the period."""
    recorded = ShadowTransition.objects.filter(rule_set=OuterRef("pk"), at__gte=start, at__lt=end)
    return list(
        RuleSet.objects.filter(status=RuleSetStatus.DRAFT)
        .filter(Q(shadow=True) | Exists(recorded))
        .order_by("pk")
    )


def scorecard_build(*, start: datetime, end: datetime) -> list[SetScore]:
    """The live set's score first, then each shadow draft's, over [start, end)."""
    live = RuleSet.objects.live()
    scores = [
        _score(
            live_mqas(start=start, end=end),
            rule_set=live,
            shadow=False,
            days=live.conversion_days,
        )
    ]
    for draft in scorecard_sets(start=start, end=end):
        scores.append(
            _score(
                shadow_mqas(rule_set=draft, start=start, end=end),
                rule_set=draft,
                shadow=True,
                days=draft.conversion_days,
            )
        )
    return scores
