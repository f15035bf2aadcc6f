"""The rules in force at one moment, loaded once per evaluation run.

Loading the whole rule set up front (a few dozen rows) lets the engine decide thousands
of accounts without touching the rule tables again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q

from mqaflow.models import (
    ActivityType,
    ActivityWeight,
    ActNowRule,
    BandwidthPeriod,
    MQAClause,
    MQARule,
    RuleSet,
    SeniorityMultiplier,
    SeniorityWeight,
    SizeBand,
)

from .measure import Figures, Scope


@dataclass(frozen=True)
class Bandwidth:
    factor: Decimal
    name: str

    def scale_minutes(self, value: Decimal | None) -> Decimal | None:
        return None if value is None else (value * self.factor).quantize(Decimal("0.01"))

    def scale_count(self, value: int | None) -> int | None:
        """Counts of people and events round up: ×1.5 of 3 people needs 5, not 4.5."""
        return None if value is None else math.ceil(value * self.factor)


NO_BANDWIDTH = Bandwidth(Decimal(1), "")


@dataclass(frozen=True)
class Weights:
    """A rule set's activity minutes and seniority multipliers.

    `stored` is true when they are the weights events were credited with at ingest (the
    live set's, or a copy left unchanged): the stored minutes can then be summed as they
    are; otherwise minutes are measured as activity minutes × multiplier of each event.
    """

    activity: dict[int, Decimal]
    seniority: dict[str, Decimal]
    stored: bool
    # What differs from the live weights: only those events are measured anew.
    changed_activities: frozenset[int] = frozenset()
    changed_seniorities: frozenset[str] = frozenset()


def live_weights() -> Weights:
    return Weights(
        activity=dict(ActivityType.objects.values_list("pk", "minutes")),
        seniority=dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier")),
        stored=True,
    )


def rule_set_weights(rule_set: RuleSet) -> Weights:
    """The set's own weights over the live ones (an activity type added since it was
    copied counts with its live minutes)."""
    live = live_weights()
    if rule_set.is_live:
        return live
    activity = live.activity | dict(
        ActivityWeight.objects.filter(rule_set=rule_set).values_list("activity_id", "minutes")
    )
    seniority = live.seniority | dict(
        SeniorityWeight.objects.filter(rule_set=rule_set).values_list("seniority", "multiplier")
    )
    changed_activities = frozenset(k for k, v in activity.items() if live.activity.get(k) != v)
    changed_seniorities = frozenset(
        k for k, v in seniority.items() if live.seniority.get(k, Decimal(1)) != v
    )
    return Weights(
        activity=activity,
        seniority=seniority,
        stored=not changed_activities and not changed_seniorities,
        changed_activities=changed_activities,
        changed_seniorities=changed_seniorities,
    )


def clause_scope(clause: MQAClause) -> Scope:
    return Scope(
        window_days=clause.window_days,
        personas=tuple(sorted(clause.personas or [])),
        min_seniority=clause.min_seniority,
    )


def act_now_scope(rule: ActNowRule) -> Scope:
    return Scope(
        window_days=rule.window_days, min_seniority=rule.min_seniority, activity_id=rule.activity_id
    )


@dataclass
class ClauseCheck:
    """A clause's thresholds (scaled by bandwidth) and which of them a measurement misses."""

    clause: MQAClause
    bandwidth: Bandwidth
    _thresholds: dict[str, Decimal | int] | None = field(default=None, repr=False, compare=False)

    def thresholds(self) -> dict[str, Decimal | int]:
        """The clause's numeric thresholds, scaled: minutes, people, personas, events, leads
        (those it sets, in that order). The seniority it requires is `seniority`, checked
        after them."""
        if self._thresholds is None:
            self._thresholds = self._compute()
        return self._thresholds

    @property
    def seniority(self) -> str:
        """The seniority somebody must have (or be above); "" when the clause needs none."""
        return self.clause.require_seniority

    def _compute(self) -> dict[str, Decimal | int]:
        c, bw = self.clause, self.bandwidth
        found = {
            "minutes": bw.scale_minutes(c.min_minutes),
            "people": bw.scale_count(c.min_people),
            "personas": bw.scale_count(c.min_personas),
            "events": bw.scale_count(c.min_events),
            "leads": bw.scale_count(c.min_qualified_leads),
        }
        return {k: v for k, v in found.items() if v is not None}

    def leads_found(self, figures: Figures) -> int:
        """How many contacts reached the clause's per-contact minutes (its qualified leads)."""
        lead = self.clause.lead_minutes
        return figures.leads.get(lead, 0) if lead is not None else 0

    def missing(self, figures: Figures) -> list[str]:
        from mqaflow.models import Seniority

        misses = []
        for kind, needed in self.thresholds().items():
            if kind == "leads":
                ok = self.leads_found(figures) >= needed
            else:
                ok = getattr(figures, kind) >= needed
            if not ok:
                misses.append(kind)
        if self.seniority and figures.top_seniority not in Seniority.at_or_above(self.seniority):
            misses.append("seniority")
        return misses


class Rulebook:
    """Active rules, size bands, bandwidth and weights of one rule set (the live one unless
    told) for one evaluation date."""

    def __init__(self, on: date, rule_set: RuleSet | None = None) -> None:
        self.rule_set = rule_set if rule_set is not None else RuleSet.objects.live()
        in_set = Q(rule_set=self.rule_set)
        self.bands = list(SizeBand.objects.filter(in_set).order_by("min_employees"))
        rules = (
            MQARule.objects.filter(in_set, is_active=True)
            .select_related("size_band")
            .prefetch_related("clauses")
        )
        self.rules = sorted(rules, key=lambda r: -r.specificity)
        act_now = ActNowRule.objects.filter(in_set, is_active=True).select_related("activity")
        self.act_now_rules = list(act_now.order_by("pk"))
        period = (
            BandwidthPeriod.objects.filter(in_set, starts_on__lte=on, ends_on__gte=on)
            .order_by("-factor")
            .first()
        )
        self.bandwidth = Bandwidth(period.factor, period.name) if period else NO_BANDWIDTH
        self._checks: dict[int, ClauseCheck] = {}
        self._weights: Weights | None = None

    @property
    def weights(self) -> Weights:
        if self._weights is None:
            self._weights = rule_set_weights(self.rule_set)
        return self._weights

    def check(self, clause: MQAClause) -> ClauseCheck:
        """The clause's thresholds under this rulebook's bandwidth, computed once."""
        found = self._checks.get(clause.pk)
        if found is None:
            found = self._checks[clause.pk] = ClauseCheck(clause, self.bandwidth)
        return found

    def band_for(self, employees: int) -> SizeBand | None:
        for band in self.bands:
            if employees >= band.min_employees and (
                band.max_employees is None or employees < band.max_employees
            ):
                return band
        return None

    def rule_for(self, funnel: int, band: SizeBand | None) -> MQARule | None:
        """The most specific active rule whose funnel and band match (None = any)."""
        band_id = band.pk if band else None
        for rule in self.rules:
            if rule.funnel not in (None, funnel):
                continue
            if rule.size_band_id not in (None, band_id):
                continue
            return rule
        return None

    def scopes(self) -> dict[Scope, set[Decimal]]:
        """Every distinct clause scope, with the per-contact lead thresholds it needs."""
        found: dict[Scope, set[Decimal]] = {}
        for rule in self.rules:
            for clause in rule.clauses.all():
                leads = found.setdefault(clause_scope(clause), set())
                if clause.min_qualified_leads is not None and clause.lead_minutes is not None:
                    leads.add(clause.lead_minutes)
        return found
