"""The MQA report's vocabulary: its periods, its rows and its date range.

The counting itself is a read-only query: `mqaflow.selectors.new_mqas_by_period`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models.functions import TruncMonth, TruncWeek
from django.utils.dateparse import parse_date

PERIODS = {"week": TruncWeek, "month": TruncMonth}


@dataclass(frozen=True)
class MQACount:
    period: date
    funnel: int
    size_band: str
    count: int


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
    start, end = bounds.get("from"), bounds.get("to")
    if not errors and start and end and start > end:
        errors["to"] = ["Must be on or after 'from'."]
    return bounds, errors
