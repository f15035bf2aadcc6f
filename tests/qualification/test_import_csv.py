from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mqaflow.models import Account, Contact, EngagementEvent
from tests.factories import AccountFactory, OwnerFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parents[1] / "data"


def run(*args):
    out = StringIO()
    call_command("import_csv", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_good_accounts_file_imports_everything():
    OwnerFactory(email="adr@s.example")
    assert "3 accounts created" in run("accounts", DATA / "accounts_good.csv")
    acme = Account.objects.get(domain="acme.com")
    assert acme.owner.email == "adr@s.example" and acme.external_id == "crm-1"
    assert Account.objects.get(domain="partner.example").excluded


def test_bad_accounts_file_imports_nothing_and_names_lines_and_fields():
    with pytest.raises(CommandError) as err:
        run("accounts", DATA / "accounts_bad.csv")
    text = str(err.value)
    assert "Nothing imported: 3 error(s)" in text
    assert "line 3: funnel:" in text
    assert "line 4: owner:" in text
    assert "line 5: domain: appears twice" in text
    assert not Account.objects.exists()


def test_contacts_and_events_files(tmp_path):
    AccountFactory(domain="acme.com")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account,email,name,title,persona,seniority\nacme.com,jo@acme.com,Jo,CIO,it,c_level\n"
    )
    assert "1 contacts created" in run("contacts", contacts)
    events = tmp_path / "events.csv"
    events.write_text(
        "id,account,contact,activity,occurred_at,minutes,source\n"
        "e1,acme.com,jo@acme.com,webinar_attended,2026-01-05T10:00:00+01:00,,csv\n"
        "e2,acme.com,,web_visit,2026-01-06T10:00:00Z,3.5,csv\n"
    )
    assert "2 event(s) created, 0 duplicate(s)" in run("events", events)
    assert "0 event(s) created, 2 duplicate(s)" in run("events", events)
    assert EngagementEvent.objects.get(external_id="e1").minutes == 60  # 30 × C-level 2
    assert Contact.objects.count() == 1


def test_bad_events_file_stores_nothing():
    AccountFactory(domain="acme.com")
    with pytest.raises(CommandError) as err:
        run("events", DATA / "events_bad.csv")
    text = str(err.value)
    assert "line 3: occurred_at: Needs a UTC offset" in text
    assert "line 4: account: No account with domain 'unknown.example'" in text
    assert "line 5: minutes: Must be zero or more." in text
    assert not EngagementEvent.objects.exists()


def test_missing_file_and_columns_are_reported(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("events", tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,account\nx,acme.com\n")
    with pytest.raises(CommandError, match="line 1: missing column"):
        run("events", bad)
