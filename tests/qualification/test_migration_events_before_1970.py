"""The data migration reports pre-1970 events without deleting or reading their times."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from mqaflow.models import EngagementEvent
from tests.factories import AccountFactory, EventFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("mqaflow.migrations.0010_report_events_before_1970")


class Editor:
    connection = connection


def test_reports_pre_1970_events_and_keeps_them(capsys):
    account = AccountFactory(domain="acme.com")
    EventFactory(account=account, external_id="recent")
    EventFactory(account=account, external_id="old")
    # As the API stored it before: a year-1 time east of UTC is a BC date in PostgreSQL.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE mqaflow_engagementevent SET occurred_at = "
            "'0001-01-01 00:00:00+14:00'::timestamptz WHERE external_id = 'old'"
        )
    migration.report(apps, Editor())
    out = capsys.readouterr().out
    assert "1 engagement event(s)" in out and "'old'" in out and "'recent'" not in out
    assert EngagementEvent.objects.count() == 2


def test_does_nothing_on_an_empty_database(capsys):
    migration.report(apps, Editor())
    assert capsys.readouterr().out == ""
