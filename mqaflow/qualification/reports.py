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
    """Qualifications (transitions into `mqa`) per period, funnel and size band; end inclusive."""
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
        .annotate(count=Count("id"))
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
