"""The MQA report's vocabulary: its periods, its rows and its date range.

The counting itself is a read-only query: `mqaflow.selectors.new_mqas_by_period`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_date

PERIODS = {"week": TruncWeek, "month": TruncMonth}


@dataclass(frozen=True)
class MQACount:
    period: date
    funnel: int
    size_band: str
    count: int


# A report's date range, one definition for the reports page and its CSVs, the API and
# the command: both days inclusive; the page fills what is missing with the last
# REPORT_DEFAULT_DAYS and allows at most REPORT_MAX_DAYS, while the API and the command
# keep their published contract (a missing bound is open, any length is allowed).
REPORT_DEFAULT_DAYS = 90
REPORT_MAX_DAYS = 3 * 366
_MAX_MESSAGE = "Choose a range of at most three years."


def parse_report_range(
    raw: Mapping[str, str | date | None],
    *,
    names: tuple[str, str] = ("from", "to"),
    labels: tuple[str, str] | None = None,
    defaults: bool = False,
    max_days: int | None = None,
    today: date | None = None,
) -> tuple[dict[str, date | None], dict[str, list[str]]]:
    """{'from': '2026-01-01', 'to': …} → (dates, errors), both keyed by the caller's
    `names` for the first and last day. Values are ISO dates or dates a form has parsed.

    `defaults` fills a missing end with today and a missing start with REPORT_DEFAULT_DAYS
    before it; `max_days` limits the length; `labels` name the first day in messages."""
    first, last = names
    bounds: dict[str, date | None] = {}
    errors: dict[str, list[str]] = {}
    for name in names:
        value = raw.get(name)
        if not value:
            continue
        if isinstance(value, date):
            bounds[name] = value
            continue
        try:
            bounds[name] = parse_date(value)
        except ValueError:
            bounds[name] = None
        if bounds[name] is None:
            errors[name] = [f"Must be a date as YYYY-MM-DD, not {value[:20]!r}."]
    if errors:
        return bounds, errors
    if defaults:
        today = today or timezone.localdate()
        bounds[last] = bounds.get(last) or today
        bounds[first] = bounds.get(first) or today - timedelta(days=REPORT_DEFAULT_DAYS)
    start, end = bounds.get(first), bounds.get(last)
    if start and end and start > end:
        label = labels[0] if labels else f"'{first}'"
        errors[last] = [f"Must be on or after {label}."]
    elif start and end and max_days is not None and end - start > timedelta(days=max_days):
        errors[first] = [_MAX_MESSAGE]
    return bounds, errors


def report_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The range as aware datetimes in the current time zone: the first day's first moment
    and the moment after the last day (compare with `<`)."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )
