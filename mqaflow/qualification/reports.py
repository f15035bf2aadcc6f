"""New MQAs per period by funnel and size band, counted from the transition rows.

Transitions snapshot the account's funnel and size band when they happen, so a report on
last quarter does not move when an account is re-segmented today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_date

from mqaflow.models import MQAStatus, MQATransition

PERIODS = {"week": TruncWeek, "month": TruncMonth}


@dataclass(frozen=True)
class MQACount:
    period: date
    funnel: int
    size_band: str
    count: int


def new_mqas_by_period(
    *, period: str = "week", start: date | None = None, end: date | None = None
) -> list[MQACount]:
    """Accounts that became MQA per period, funnel and size band; end inclusive.

    Counted as distinct accounts per bucket: an admin editing a rule back and forth (the
    account leaves and re-enters `mqa` within the period) does not double the numbers."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    qs = MQATransition.objects.filter(to_status=MQAStatus.MQA)
    tz = timezone.get_current_timezone()
    if start:
        qs = qs.filter(at__gte=datetime.combine(start, time.min, tzinfo=tz))
    if end:
        qs = qs.filter(at__lte=datetime.combine(end, time.max, tzinfo=tz))
    rows = (
        qs.annotate(bucket=PERIODS[period]("at", tzinfo=tz))
        .values("bucket", "funnel", "size_band")
        .annotate(count=Count("account", distinct=True))
        .order_by("bucket", "funnel", "size_band")
    )
    return [
        MQACount(
            period=r["bucket"].date() if isinstance(r["bucket"], datetime) else r["bucket"],
            funnel=r["funnel"],
            size_band=r["size_band"],
            count=r["count"],
        )
        for r in rows
    ]


def parse_report_range(
    raw: dict[str, str | None],
) -> tuple[dict[str, date | None], dict[str, list[str]]]:
    """{'from': '2026-01-01', 'to': …} → (dates, errors by name), shared by API and command."""
    bounds: dict[str, date | None] = {}
    errors: dict[str, list[str]] = {}
    for name in ("from", "to"):
        value = raw.get(name)
        if not value:
            continue
        try:
            bounds[name] = parse_date(value)
        except ValueError:
            bounds[name] = None
        if bounds[name] is None:
            errors[name] = [f"Must be a date as YYYY-MM-DD, not {value[:20]!r}."]
    if not errors and bounds.get("from") and bounds.get("to") and bounds["from"] > bounds["to"]:
        errors["to"] = ["Must be on or after 'from'."]
    return bounds, errors
