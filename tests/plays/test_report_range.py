"""One report date range for the reports page, its CSVs, the API and the command."""

from datetime import date, timedelta

from mqaflow.qualification.reports import (
    REPORT_DEFAULT_DAYS,
    REPORT_MAX_DAYS,
    parse_report_range,
    report_bounds,
)
from plays.forms import ReportForm

TODAY = date(2026, 3, 2)


def test_the_page_fills_the_default_range_and_limits_its_length():
    bounds, errors = parse_report_range(
        {}, names=("start", "end"), defaults=True, max_days=REPORT_MAX_DAYS, today=TODAY
    )
    assert errors == {}
    assert bounds == {"start": TODAY - timedelta(days=REPORT_DEFAULT_DAYS), "end": TODAY}
    form = ReportForm({"period": "week", "start": "2020-01-01", "end": "2026-01-01"})
    assert not form.is_valid()
    assert form.errors["start"] == ["Choose a range of at most three years."]
    form = ReportForm({"period": "week", "start": "2026-02-01", "end": "2026-01-01"})
    assert form.errors["end"] == ["Must be on or after the start date."]


def test_the_api_keeps_open_bounds_and_its_messages():
    assert parse_report_range({"from": None, "to": None}) == ({}, {})
    assert parse_report_range({"from": "2020-01-01", "to": "2026-01-01"})[1] == {}
    assert parse_report_range({"from": "2026-02-01", "to": "2026-01-01"})[1] == {
        "to": ["Must be on or after 'from'."]
    }
    assert parse_report_range({"from": "nope"})[1] == {
        "from": ["Must be a date as YYYY-MM-DD, not 'nope'."]
    }


def test_bounds_count_the_last_day_whole():
    start, end = report_bounds(TODAY, TODAY)
    assert end - start == timedelta(days=1) and start.date() == TODAY
