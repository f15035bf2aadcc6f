"""Upserts for a nightly CRM sync: PUT by natural key, bulk all-or-nothing with
created/updated/unchanged counts, matching by external_id, managers in any order, cycles
refused naming the items, and the same from files with import_csv --upsert."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from mqaflow.models import Account, Contact, Owner
from mqaflow.tokens import token_issue
from tests.factories import AccountFactory, ContactFactory, OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm():
    """A client with a directory-scoped integration token, as a CRM sync would use."""
    _, key = token_issue(user=UserFactory(username="crm@s.example"), name="CRM", scopes="directory")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_bulk_owners_counts_and_managers_in_any_order(crm):
    OwnerFactory(email="kept@s.example", name="Kept", title="AE")
    OwnerFactory(email="renamed@s.example", name="Old name")
    batch = [
        # the ADR comes before her manager, who comes before his own manager
        {"email": "ana@s.example", "name": "Ana", "manager": "mia@s.example"},
        {
            "email": "mia@s.example",
            "name": "Mia",
            "manager": "cara@s.example",
            "external_id": "u-2",
        },
        {"email": "cara@s.example", "name": "Cara", "title": "CEO"},
        {"email": "kept@s.example", "name": "Kept", "title": "AE"},
        {"email": "renamed@s.example", "name": "New name", "manager": "cara@s.example"},
    ]
    response = crm.post("/api/v1/owners/bulk/", batch, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 3, "updated": 1, "unchanged": 1}
    ana = Owner.objects.get(email="ana@s.example")
    assert [m.email for m in ana.managers()] == ["mia@s.example", "cara@s.example"]
    assert Owner.objects.get(email="renamed@s.example").name == "New name"
    assert Owner.objects.get(email="mia@s.example").external_id == "u-2"
    # The same batch again: nothing to do.
    response = crm.post("/api/v1/owners/bulk/", batch, format="json")
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 5}


def test_a_manager_cycle_is_a_400_naming_the_items_and_nothing_is_stored(crm):
    top = OwnerFactory(email="top@s.example", name="Top")
    mid = OwnerFactory(email="mid@s.example", name="Mid", manager=top)
    batch = [
        {"email": "new@s.example", "name": "New"},
        {"email": "x@s.example", "name": "X", "manager": "y@s.example"},
        {"email": "y@s.example", "name": "Y", "manager": "x@s.example"},
        # and through the database: top would report to mid, who reports to top
        {"email": "top@s.example", "manager": "mid@s.example"},
    ]
    response = crm.post("/api/v1/owners/bulk/", batch, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1", "2", "3"}
    assert "items 1, 2" in errors["1"]["manager"][0]
    assert "x@s.example" in errors["1"]["manager"][0]
    assert "mid@s.example" in errors["3"]["manager"][0]
    assert not Owner.objects.filter(email__in=["new@s.example", "x@s.example"]).exists()
    top.refresh_from_db()
    assert top.manager is None and Owner.objects.get(pk=mid.pk).manager == top


def test_reversing_a_reporting_line_in_one_batch_is_not_a_cycle(crm):
    """Today b reports to a; the batch makes a report to b. Final org: acyclic."""
    a = OwnerFactory(email="a@s.example", name="A")
    b = OwnerFactory(email="b@s.example", name="B", manager=a)
    batch = [
        {"email": "a@s.example", "manager": "b@s.example"},
        {"email": "b@s.example", "manager": None},
    ]
    response = crm.post("/api/v1/owners/bulk/", batch, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 0, "updated": 2, "unchanged": 0}
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.manager == b and b.manager is None


def test_a_bad_item_stores_nothing_and_every_error_is_named(crm):
    AccountFactory(domain="old.example", name="Old")
    batch = [
        {"domain": "good.example", "name": "Good", "funnel": 1},
        {"domain": "old.example", "name": "Renamed"},
        {"domain": "bad", "name": "Bad"},
        {"domain": "x.example", "name": "X", "funnel": 9, "owner": "nobody@s.example"},
        {"domain": "y.example", "name": "Y", "colour": "red"},
        {"domain": "GOOD.example", "name": "Twice"},
    ]
    response = crm.post("/api/v1/accounts/bulk/", batch, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "domain" in errors["2"]
    assert "owner" in errors["3"]
    assert "colour" in errors["4"]
    assert "twice" in errors["5"]["domain"][0]
    assert not Account.objects.filter(domain="good.example").exists()
    assert Account.objects.get(domain="old.example").name == "Old"


def test_bulk_accounts_match_by_external_id_and_report_counts(crm):
    owner = OwnerFactory(email="ana@s.example")
    AccountFactory(domain="acme.com", name="Acme", external_id="001A", funnel=1, owner=owner)
    AccountFactory(domain="same.com", name="Same", funnel=2, employees=50, industry="")
    batch = [
        {"domain": "acme.com", "external_id": "001A", "name": "Acme Inc", "employees": 250},
        {"domain": "same.com", "name": "Same", "funnel": 2, "employees": 50},
        {"domain": "new.com", "name": "New", "funnel": 3, "owner": "ANA@s.example"},
    ]
    response = crm.post("/api/v1/accounts/bulk/", batch, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 1}
    acme = Account.objects.get(domain="acme.com")
    assert (acme.name, acme.employees) == ("Acme Inc", 250)
    assert Account.objects.get(domain="new.com").owner == owner
    # external_id matches a record whose domain differs: refused, named.
    response = crm.post(
        "/api/v1/accounts/bulk/", [{"domain": "acme.io", "external_id": "001A"}], format="json"
    )
    assert response.status_code == 400
    assert "acme.com" in response.json()["errors"]["0"]["domain"][0]


def test_bulk_contacts_and_the_batch_limit(crm, settings):
    account = AccountFactory(domain="acme.com")
    ContactFactory(account=account, email="kim@acme.com", name="Kim", title="CTO")
    batch = [
        {"account": "acme.com", "email": "KIM@acme.com", "name": "Kim", "title": "CEO"},
        {"account": "acme.com", "email": "lee@acme.com", "name": "Lee", "seniority": "vp"},
        {"account": "acme.com", "email": "max@acme.com", "external_id": "c-9"},
    ]
    response = crm.post("/api/v1/contacts/bulk/", batch, format="json")
    assert response.json() == {"created": 2, "updated": 1, "unchanged": 0}
    assert Contact.objects.get(email="kim@acme.com").title == "CEO"
    response = crm.post(
        "/api/v1/contacts/bulk/",
        [{"account": "nowhere.com", "email": "a@nowhere.com"}],
        format="json",
    )
    assert response.status_code == 400 and "account" in response.json()["errors"]["0"]
    settings.MQAFLOW_UPSERT_BATCH_MAX = 2
    response = crm.post("/api/v1/contacts/bulk/", batch, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["At most 2 items per request; got 3."]
    }
    response = crm.post("/api/v1/contacts/bulk/", [], format="json")
    assert response.status_code == 400 and "at least one" in str(response.json())


def test_put_creates_then_updates_then_leaves_alone(crm):
    response = crm.put(
        "/api/v1/owners/Bo@S.example/", {"name": "Bo", "title": "ADR"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "bo@s.example"
    response = crm.put("/api/v1/owners/bo@s.example/", {"name": "Bo B"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Bo B"
    assert Owner.objects.get(email="bo@s.example").title == "ADR"
    response = crm.put("/api/v1/owners/bo@s.example/", {"email": "other@s.example"}, format="json")
    assert response.status_code == 400 and "email" in response.json()

    response = crm.put("/api/v1/accounts/acme.com/", {"name": "Acme", "funnel": 1}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    response = crm.put("/api/v1/accounts/acme.com/", body, format="json")  # GET shape back
    assert response.status_code == 200, response.content
    response = crm.put("/api/v1/accounts/acme.com/", {"funnel": 7}, format="json")
    assert response.status_code == 400 and "funnel" in response.json()

    response = crm.put(
        "/api/v1/contacts/acme.com/kim@acme.com/", {"name": "Kim", "seniority": "vp"}, format="json"
    )
    assert response.status_code == 201, response.content
    response = crm.put("/api/v1/contacts/acme.com/kim@acme.com/", {"title": "CTO"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "CTO"
    assert crm.get("/api/v1/contacts/acme.com/kim@acme.com/").json()["name"] == "Kim"
    response = crm.put("/api/v1/contacts/nowhere.com/kim@acme.com/", {}, format="json")
    assert response.status_code == 400 and "account" in response.json()


def test_patch_and_post_keep_their_behaviour(crm):
    assert crm.post("/api/v1/owners/", {"email": "z@s.example", "name": "Z"}).status_code == 201
    again = crm.post("/api/v1/owners/", {"email": "z@s.example", "name": "Z"})
    assert again.status_code == 400  # POST is still "create"
    response = crm.patch("/api/v1/owners/z@s.example/", {"title": "AE"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "AE"


def test_upserts_need_the_directory_scope_and_an_admin_or_integration():
    adr = OwnerFactory()
    client = APIClient()
    client.force_authenticate(adr.user)
    response = client.post(
        "/api/v1/owners/bulk/", [{"email": "x@s.example", "name": "X"}], format="json"
    )
    assert response.status_code == 403
    assert (
        client.put("/api/v1/owners/x@s.example/", {"name": "X"}, format="json").status_code == 403
    )
    _, key = token_issue(user=UserFactory(), name="events", scopes=["ingest"])
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = token.post(
        "/api/v1/accounts/bulk/", [{"domain": "a.example", "name": "A"}], format="json"
    )
    assert response.status_code == 403 and "'directory'" in response.json()["detail"]
    assert not Owner.objects.filter(email="x@s.example").exists()


def test_deactivating_through_a_sync_moves_plays_like_an_edit(crm):
    """A sync's deactivation has the same consequence as an admin's: the signal fires."""
    from mqaflow.signals import owner_deactivated

    seen = []

    def listener(sender, owner, **kwargs):
        seen.append(owner.email)

    owner_deactivated.connect(listener, dispatch_uid="test-upsert-deactivation")
    try:
        OwnerFactory(email="leaver@s.example", name="Leaver")
        response = crm.post(
            "/api/v1/owners/bulk/", [{"email": "leaver@s.example", "active": False}], format="json"
        )
    finally:
        owner_deactivated.disconnect(dispatch_uid="test-upsert-deactivation")
    assert response.json()["updated"] == 1
    assert seen == ["leaver@s.example"]


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_csv_upsert_updates_existing_rows_and_without_it_they_are_errors(tmp_path):
    AccountFactory(domain="acme.com", name="Acme", funnel=1)
    path = _csv(
        tmp_path,
        "accounts.csv",
        "domain,name,funnel,external_id\nacme.com,Acme Corp,1,001A\nnew.com,New,2,\n",
    )
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_csv", "accounts", str(path))
    assert not Account.objects.filter(domain="new.com").exists()
    out = StringIO()
    call_command("import_csv", "accounts", str(path), "--upsert", stdout=out)
    assert "1 created, 1 updated, 0 unchanged" in out.getvalue()
    assert Account.objects.get(domain="acme.com").external_id == "001A"
    out = StringIO()
    call_command("import_csv", "accounts", str(path), "--upsert", stdout=out)
    assert "0 created, 0 updated, 2 unchanged" in out.getvalue()


def test_import_csv_upsert_owners_and_contacts_with_line_numbers(tmp_path):
    owners = _csv(
        tmp_path,
        "owners.csv",
        "email,name,manager,is_active\nana@s.example,Ana,mia@s.example,true\n"
        "mia@s.example,Mia,,yes\n",
    )
    out = StringIO()
    call_command("import_csv", "owners", str(owners), "--upsert", stdout=out)
    assert "2 created" in out.getvalue()
    assert Owner.objects.get(email="ana@s.example").manager.email == "mia@s.example"
    AccountFactory(domain="acme.com")
    contacts = _csv(
        tmp_path,
        "contacts.csv",
        "account,email,name,seniority\nacme.com,kim@acme.com,Kim,vp\nacme.com,lee@acme.com,Lee,boss\n",
    )
    with pytest.raises(CommandError) as failure:
        call_command("import_csv", "contacts", str(contacts), "--upsert")
    assert "line 3: seniority" in str(failure.value)
    assert not Contact.objects.exists()


def test_json_types_are_strict_and_text_must_be_storable(crm):
    batch = [
        {"email": "a@s.example", "name": "A", "active": 0},
        {"email": "b@s.example", "name": "B\x00"},
        {"email": "c@s.example", "name": 7},
    ]
    response = crm.post("/api/v1/owners/bulk/", batch, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["0"] == {"active": ["Must be a boolean."]}
    assert "NUL" in errors["1"]["name"][0]
    assert errors["2"]["name"][0] == "Must be a string."
    response = crm.put("/api/v1/accounts/acme.com/", {"name": "A", "funnel": "1"}, format="json")
    assert response.status_code == 400 and response.json()["errors"]["funnel"]
    assert not Owner.objects.exists() and not Account.objects.exists()
