"""One function computes every SLA moment: wall clock, business hours, holidays, DST."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from plays.deadlines import add_sla_hours
from plays.models import SLAPolicy

BERLIN = ZoneInfo("Europe/Berlin")


def policy(**kw):
    return SLAPolicy(funnel=1, response_hours=24, **kw)


def test_wall_clock_hours_are_real_hours_across_a_dst_change():
    start = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)  # the night of 29 March loses an hour
    due = add_sla_hours(start, 24, policy=policy())
    assert due == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)
    assert due.astimezone(BERLIN).hour == 13  # 24 real hours, 25 on the wall clock


def business(**kw):
    return policy(
        business_hours=True, time_zone="Europe/Berlin", work_start=time(9), work_end=time(17), **kw
    )


def test_business_hours_skip_the_weekend():
    friday_4pm = datetime(2026, 3, 6, 16, 0, tzinfo=BERLIN)
    due = add_sla_hours(friday_4pm, 8, policy=business())
    assert due.astimezone(BERLIN) == datetime(2026, 3, 9, 16, 0, tzinfo=BERLIN)  # Monday


def test_business_hours_start_at_opening_when_created_at_night():
    saturday = datetime(2026, 3, 7, 23, 0, tzinfo=BERLIN)
    due = add_sla_hours(saturday, 2, policy=business())
    assert due.astimezone(BERLIN) == datetime(2026, 3, 9, 11, 0, tzinfo=BERLIN)


def test_business_hours_skip_a_public_holiday():
    # 1 May 2026 is a Friday and a public holiday in Germany.
    thursday = datetime(2026, 4, 30, 13, 0, tzinfo=BERLIN)
    plain = add_sla_hours(thursday, 8, policy=business())
    german = add_sla_hours(thursday, 8, policy=business(holiday_country="DE"))
    assert plain.astimezone(BERLIN) == datetime(2026, 5, 1, 13, 0, tzinfo=BERLIN)
    assert german.astimezone(BERLIN) == datetime(2026, 5, 4, 13, 0, tzinfo=BERLIN)


def test_business_hours_across_the_dst_change_keep_the_working_day():
    friday = datetime(2026, 3, 27, 15, 0, tzinfo=BERLIN)  # DST starts Sunday 29 March
    due = add_sla_hours(friday, 10, policy=business())
    assert due.astimezone(BERLIN) == datetime(2026, 3, 30, 17, 0, tzinfo=BERLIN)


def test_a_policy_with_no_working_time_is_an_error():
    with pytest.raises(ValueError, match="no working time"):
        add_sla_hours(datetime(2026, 1, 1, tzinfo=UTC), 1, policy=business(work_days=""))
