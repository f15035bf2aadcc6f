"""Measuring engagement: one grouped query per distinct filter, over any set of accounts.

Each clause and Act Now rule is turned into a `Scope` (window and which contacts count).
Clauses that share a scope share one query, so a rule set of a dozen clauses costs a
handful of aggregate queries per chunk of accounts, however many accounts there are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When

from mqaflow.models import EngagementEvent, Seniority

# 0 = most senior; a contact-less (anonymous) event ranks below everyone.
SENIORITY_RANK = {value: rank for rank, value in enumerate(Seniority.values)}
ANONYMOUS_RANK = len(SENIORITY_RANK)


@dataclass(frozen=True)
class Scope:
    """Which engagement counts: a window and optional persona / seniority filters."""

    window_days: int
    personas: tuple[str, ...] = ()
    min_seniority: str = ""
    activity_id: int | None = None

    def events(self, account_ids: list[int], now: datetime) -> QuerySet:
        since = now - timedelta(days=self.window_days)
        qs = EngagementEvent.objects.filter(
            account_id__in=account_ids, occurred_at__gte=since, occurred_at__lte=now
        )
        if self.activity_id is not None:
            qs = qs.filter(activity_id=self.activity_id)
        if self.personas:
            qs = qs.filter(contact__persona__in=self.personas)
        if self.min_seniority:
            qs = qs.filter(contact__seniority__in=Seniority.at_or_above(self.min_seniority))
        return qs


@dataclass
class Figures:
    """What was measured for one account in one scope."""

    window_days: int
    minutes: Decimal = Decimal(0)
    events: int = 0
    people: int = 0
    personas: int = 0
    top_seniority: str = ""
    leads: dict[Decimal, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "window_days": self.window_days,
            "minutes": float(self.minutes),
            "events": self.events,
            "people": self.people,
            "personas": self.personas,
            "top_seniority": self.top_seniority,
        }


def _rank_expression() -> Case:
    whens = [
        When(contact__seniority=value, then=Value(rank)) for value, rank in SENIORITY_RANK.items()
    ]
    return Case(*whens, default=Value(ANONYMOUS_RANK), output_field=IntegerField())


def measure(
    scope: Scope, account_ids: list[int], now: datetime, lead_thresholds: set[Decimal] = frozenset()
) -> dict[int, Figures]:
    """Aggregate a scope's engagement per account; accounts with none are absent."""
    rows = (
        scope.events(account_ids, now)
        .values("account_id")
        .annotate(
            minutes=Sum("minutes"),
            n_events=Count("id"),
            people=Count("contact_id", distinct=True),
            personas=Count("contact__persona", distinct=True),
            top_rank=Min(_rank_expression()),
        )
        .order_by()
    )
    ranks = list(SENIORITY_RANK)
    result: dict[int, Figures] = {}
    for row in rows:
        top = row["top_rank"]
        result[row["account_id"]] = Figures(
            window_days=scope.window_days,
            minutes=row["minutes"] or Decimal(0),
            events=row["n_events"],
            people=row["people"],
            personas=row["personas"],
            top_seniority=ranks[top] if top is not None and top < ANONYMOUS_RANK else "",
        )
    for threshold in lead_thresholds:
        for account_id, count in _count_leads(scope, account_ids, now, threshold).items():
            result[account_id].leads[threshold] = count
    return result


def _count_leads(
    scope: Scope, account_ids: list[int], now: datetime, threshold: Decimal
) -> dict[int, int]:
    """Contacts whose own minutes in the scope reach `threshold` (the per-contact MQL)."""
    per_contact = (
        scope.events(account_ids, now)
        .filter(contact__isnull=False)
        .values("account_id", "contact_id")
        .annotate(total=Sum("minutes"))
        .filter(total__gte=threshold)
        .order_by()
    )
    counts: dict[int, int] = defaultdict(int)
    for row in per_contact:
        counts[row["account_id"]] += 1
    return dict(counts)


def measure_act_now(
    scope: Scope, account_ids: list[int], now: datetime
) -> dict[int, tuple[int, int, datetime]]:
    """Per account: (distinct known people, anonymous events, latest occurrence)."""
    rows = (
        scope.events(account_ids, now)
        .values("account_id")
        .annotate(
            people=Count("contact_id", distinct=True),
            anonymous=Count("id", filter=Q(contact__isnull=True)),
            latest=Max("occurred_at"),
        )
        .order_by()
    )
    return {r["account_id"]: (r["people"], r["anonymous"], r["latest"]) for r in rows}
