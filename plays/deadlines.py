"""The one function that turns "N hours after T" into a moment, under a policy.

Wall-clock policies add N real hours (UTC arithmetic, so a DST change neither adds nor
loses an hour). Business-hours policies count only working time: the policy's weekdays and
hours in its own time zone, skipping public holidays from the `holidays` library.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from .models import SLAPolicy

# A year of days is more than any SLA needs; the bound stops a policy with no working
# time at all (e.g. every weekday a holiday) from looping forever.
MAX_DAYS_SCANNED = 366


@lru_cache(maxsize=32)
def _holidays(country: str, subdivision: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)


def is_working_day(day: date, policy: SLAPolicy) -> bool:
    if day.weekday() not in policy.weekdays:
        return False
    if policy.holiday_country:
        return day not in _holidays(policy.holiday_country, policy.holiday_subdivision, day.year)
    return True


def add_sla_hours(start: datetime, hours: float, *, policy: SLAPolicy) -> datetime:
    """The moment `hours` of SLA time after `start` (aware), as an aware UTC datetime."""
    if not policy.business_hours:
        return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(UTC)
    zone = ZoneInfo(policy.time_zone)
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(zone)
    for _ in range(MAX_DAYS_SCANNED):
        day = cursor.date()
        if is_working_day(day, policy):
            opens = datetime.combine(day, policy.work_start, tzinfo=zone)
            closes = datetime.combine(day, policy.work_end, tzinfo=zone)
            begin = max(cursor, opens)
            if begin < closes:
                # Differences of aware datetimes in one zone are wall-clock in Python:
                # compare in UTC so a DST night inside working hours counts real time.
                available = closes.astimezone(UTC) - begin.astimezone(UTC)
                if remaining <= available:
                    return (begin.astimezone(UTC) + remaining).astimezone(UTC)
                remaining -= available
        cursor = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    raise ValueError(f"{policy} has no working time in the next {MAX_DAYS_SCANNED} days")
