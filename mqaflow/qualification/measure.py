"""Measuring engagement: few grouped queries per chunk of accounts, however many rules.

Each clause is turned into a `Scope` (window and which contacts count). Scopes that differ
only in their window share one query: it scans the longest window once and computes each
window's figures with filtered aggregates (`SUM(…) FILTER (WHERE occurred_at >= …)`).
All Act Now rules share one query the same way. With the default rules a chunk of 5,000
accounts costs two aggregate queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Aggregate, Count, Max, Min, Q, Sum

from mqaflow.models import SENIORITY_RANK, EngagementEvent, Seniority
from mqaflow.models.choices import seniority_rank_expression

# A contact-less (anonymous) event ranks below everyone.
ANONYMOUS_RANK = len(SENIORITY_RANK)


@dataclass(frozen=True)
class Scope:
    """Which engagement counts: a window and optional persona / seniority filters."""

    window_days: int
    personas: tuple[str, ...] = ()
    min_seniority: str = ""
    activity_id: int | None = None

    def contact_filter(self) -> Q:
        q = Q()
        if self.activity_id is not None:
            q &= Q(activity_id=self.activity_id)
        if self.personas:
            q &= Q(contact__persona__in=self.personas)
        if self.min_seniority:
            q &= Q(contact__seniority__in=Seniority.at_or_above(self.min_seniority))
        return q

    def window_filter(self, now: datetime) -> Q:
        return Q(occurred_at__gte=now - timedelta(days=self.window_days), occurred_at__lte=now)


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


def _base(account_ids: list[int], since: datetime, now: datetime):
    return EngagementEvent.objects.filter(
        account_id__in=account_ids, occurred_at__gte=since, occurred_at__lte=now
    )


def measure_scopes(
    scopes: dict[Scope, set[Decimal]], account_ids: list[int], now: datetime
) -> dict[Scope, dict[int, Figures]]:
    """Figures per scope and account; scopes differing only by window share one query."""
    families: dict[tuple, list[Scope]] = defaultdict(list)
    for scope in scopes:
        families[(scope.personas, scope.min_seniority, scope.activity_id)].append(scope)
    ranks = list(SENIORITY_RANK)
    result: dict[Scope, dict[int, Figures]] = {scope: {} for scope in scopes}
    for members in families.values():
        widest = max(members, key=lambda s: s.window_days)
        since = now - timedelta(days=widest.window_days)
        annotations: dict[str, Aggregate] = {}
        for n, scope in enumerate(members):
            inside = Q(occurred_at__gte=now - timedelta(days=scope.window_days))
            annotations |= {
                f"m{n}": Sum("minutes", filter=inside),
                f"e{n}": Count("id", filter=inside),
                f"p{n}": Count("contact_id", distinct=True, filter=inside),
                f"r{n}": Count("contact__persona", distinct=True, filter=inside),
                f"s{n}": Min(seniority_rank_expression("contact__seniority"), filter=inside),
            }
        rows = (
            _base(account_ids, since, now)
            .filter(widest.contact_filter())
            .values("account_id")
            .annotate(**annotations)
            .order_by()
        )
        for row in rows:
            for n, scope in enumerate(members):
                if not row[f"e{n}"]:
                    continue
                top = row[f"s{n}"]
                result[scope][row["account_id"]] = Figures(
                    window_days=scope.window_days,
                    minutes=row[f"m{n}"] or Decimal(0),
                    events=row[f"e{n}"],
                    people=row[f"p{n}"],
                    personas=row[f"r{n}"],
                    top_seniority=ranks[top] if top is not None and top < ANONYMOUS_RANK else "",
                )
    for scope, thresholds in scopes.items():
        for threshold in thresholds:
            for account_id, count in _count_leads(scope, account_ids, now, threshold).items():
                result[scope][account_id].leads[threshold] = count
    return result


def _count_leads(
    scope: Scope, account_ids: list[int], now: datetime, threshold: Decimal
) -> dict[int, int]:
    """Contacts whose own minutes in the scope reach `threshold` (the per-contact MQL)."""
    per_contact = (
        EngagementEvent.objects.filter(account_id__in=account_ids)
        .filter(scope.window_filter(now) & scope.contact_filter())
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
    scopes: dict[int, Scope], account_ids: list[int], now: datetime
) -> dict[int, dict[int, tuple[int, int, datetime]]]:
    """Per Act Now rule and account: (distinct known people, anonymous events, latest)."""
    if not scopes:
        return {}
    since = now - timedelta(days=max(s.window_days for s in scopes.values()))
    annotations: dict[str, Aggregate] = {}
    for key, scope in scopes.items():
        inside = scope.window_filter(now) & scope.contact_filter()
        annotations |= {
            f"p{key}": Count("contact_id", distinct=True, filter=inside),
            f"a{key}": Count("id", filter=inside & Q(contact__isnull=True)),
            f"l{key}": Max("occurred_at", filter=inside),
        }
    activity_ids = {s.activity_id for s in scopes.values()}
    rows = (
        _base(account_ids, since, now)
        .filter(activity_id__in=activity_ids)
        .values("account_id")
        .annotate(**annotations)
        .order_by()
    )
    result: dict[int, dict[int, tuple[int, int, datetime]]] = {key: {} for key in scopes}
    for row in rows:
        for key in scopes:
            if row[f"l{key}"] is not None:
                result[key][row["account_id"]] = (row[f"p{key}"], row[f"a{key}"], row[f"l{key}"])
    return result
