from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mqaflow.models import Account, Contact, EngagementEvent, Owner
from tests.factories import AccountFactory, ContactFactory, OwnerFactory, org_chart

pytestmark = pytest.mark.django_db


def iso(days_ago=1):
    return (timezone.now() - timedelta(days=days_ago)).isoformat()


# --- owners ---------------------------------------------------------------------------


def test_create_owner_creates_user_without_usable_password(api_client):
    boss = OwnerFactory(email="boss@seller.example")
    response = api_client.post(
        "/api/v1/owners/",
        {"email": "Ana@Seller.example", "name": "Ana", "title": "ADR", "manager": boss.email},
        format="json",
    )
    assert response.status_code == 201, response.json()
    owner = Owner.objects.get(email="ana@seller.example")
    assert owner.manager == boss
    assert owner.user.email == "ana@seller.example"
    assert not owner.user.has_usable_password()
    listed = api_client.get("/api/v1/owners/").json()
    assert "ana@seller.example" in [o["email"] for o in listed["results"]]


def test_owner_manager_must_exist_and_cycles_are_rejected(api_client):
    response = api_client.post(
        "/api/v1/owners/", {"email": "x@s.example", "name": "X", "manager": "nobody@s.example"}
    )
    assert response.status_code == 400
    assert "manager" in response.json()
    people = org_chart("ceo", "vp")
    ceo, vp = people["ceo"], people["vp"]
    response = api_client.patch(f"/api/v1/owners/{ceo.email}/", {"manager": vp.email})
    assert response.status_code == 400
    assert "cycle" in response.json()["manager"][0]
    ceo.refresh_from_db()
    assert ceo.manager is None


# --- accounts ---------------------------------------------------------------------------


def test_create_get_and_patch_account(api_client):
    owner = OwnerFactory(email="adr@s.example")
    response = api_client.post(
        "/api/v1/accounts/",
        {
            "domain": "Acme.COM",
            "name": "Acme",
            "funnel": 1,
            "employees": 1200,
            "industry": "Manufacturing",
            "owner": "ADR@s.example",
            "external_id": "crm-1",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["domain"] == "acme.com"
    detail = api_client.get("/api/v1/accounts/acme.com/").json()
    assert detail["owner"] == owner.email
    assert detail["mqa"]["status"] == "not_qualified"
    assert set(detail["mqa"]) >= {
        "status",
        "qualified_at",
        "rule",
        "clause",
        "figures",
        "explanation",
    }

    response = api_client.patch(
        "/api/v1/accounts/ACME.com/",
        {"excluded": True, "excluded_reason": "partner"},
        format="json",
    )
    assert response.status_code == 200
    assert Account.objects.get(domain="acme.com").excluded_reason == "partner"
    assert len(api_client.get("/api/v1/accounts/?funnel=1").json()["results"]) == 1
    assert api_client.get("/api/v1/accounts/?funnel=2").json()["results"] == []


def test_account_errors_name_the_field(api_client):
    AccountFactory(domain="taken.example")
    cases = [
        ({"domain": "taken.example", "name": "T", "funnel": 1}, "domain"),
        ({"domain": "new.example", "name": "N", "funnel": 7}, "funnel"),
        ({"domain": "new.example", "name": "N", "funnel": 1, "owner": "no@one"}, "owner"),
        ({"domain": "new.example", "name": "N", "funnel": 1, "employees": -3}, "employees"),
        ({"domain": "not a domain", "name": "N", "funnel": 1}, "domain"),
    ]
    for payload, field in cases:
        response = api_client.post("/api/v1/accounts/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    assert Account.objects.count() == 1
    assert api_client.get("/api/v1/accounts/missing.example/").status_code == 404


# --- contacts ---------------------------------------------------------------------------


def test_create_and_list_contacts(api_client):
    account = AccountFactory(domain="acme.com")
    response = api_client.post(
        "/api/v1/contacts/",
        {
            "account": "acme.com",
            "email": "Jane@Acme.com",
            "name": "Jane",
            "title": "VP IT",
            "persona": "it",
            "seniority": "vp",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Contact.objects.get(account=account).email == "jane@acme.com"
    dup = api_client.post(
        "/api/v1/contacts/", {"account": "acme.com", "email": "jane@acme.com"}, format="json"
    )
    assert dup.status_code == 400 and "email" in dup.json()
    bad = api_client.post(
        "/api/v1/contacts/",
        {"account": "acme.com", "email": "x@acme.com", "persona": "wizard"},
        format="json",
    )
    assert bad.status_code == 400 and "persona" in bad.json()
    listed = api_client.get("/api/v1/contacts/?account=acme.com").json()["results"]
    assert [c["email"] for c in listed] == ["jane@acme.com"]


# --- events -----------------------------------------------------------------------------


@pytest.fixture
def acme():
    account = AccountFactory(domain="acme.com")
    ContactFactory(account=account, email="vp@acme.com", seniority="vp")
    return account


def test_ingest_batch_credits_minutes_and_is_idempotent(api_client, acme):
    batch = [
        {
            "id": "e1",
            "account": "acme.com",
            "contact": "vp@acme.com",
            "activity": "webinar_attended",
            "occurred_at": iso(),
            "source": "webinar-tool",
        },
        {
            "id": "e2",
            "account": "ACME.com",
            "contact": None,
            "activity": "web_visit",
            "occurred_at": iso(200),
        },
        {
            "id": "e3",
            "account": "acme.com",
            "activity": "web_visit",
            "occurred_at": iso(),
            "minutes": 7.5,
        },
    ]
    response = api_client.post("/api/v1/events/", batch, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3, "duplicates": 0}
    minutes = dict(EngagementEvent.objects.values_list("external_id", "minutes"))
    assert minutes == {"e1": Decimal("60.00"), "e2": Decimal("2.00"), "e3": Decimal("7.50")}
    acme.refresh_from_db()
    assert acme.last_event_ingested_at is not None

    again = api_client.post("/api/v1/events/", [*batch, {**batch[0], "id": "e4"}], format="json")
    assert again.json() == {"created": 1, "duplicates": 3}
    assert EngagementEvent.objects.count() == 4


def test_duplicate_ids_within_one_batch_are_stored_once(api_client, acme):
    event = {"id": "same", "account": "acme.com", "activity": "web_visit", "occurred_at": iso()}
    response = api_client.post("/api/v1/events/", [event, event], format="json")
    assert response.json() == {"created": 1, "duplicates": 1}


def test_single_event_object_is_accepted(api_client, acme):
    response = api_client.post(
        "/api/v1/events/",
        {"id": "one", "account": "acme.com", "activity": "demo_request", "occurred_at": iso()},
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {"created": 1, "duplicates": 0}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account": "unknown.example"}, "account"),
        ({"activity": "telepathy"}, "activity"),
        ({"contact": "stranger@other.example"}, "contact"),
        ({"occurred_at": None}, "occurred_at"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": (timezone.now() + timedelta(days=2)).isoformat()}, "occurred_at"),
        ({"minutes": -1}, "minutes"),
        ({"minutes": "lots"}, "minutes"),
        ({"id": ""}, "id"),
        ({"id": None}, "id"),
        ({"account": 12}, "account"),
    ],
)
def test_a_bad_item_rejects_the_whole_batch_naming_index_and_field(api_client, acme, change, field):
    good = {"id": "g", "account": "acme.com", "activity": "web_visit", "occurred_at": iso()}
    bad = {**good, "id": "b", **change}
    response = api_client.post("/api/v1/events/", [good, bad], format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]["1"], response.json()
    assert "0" not in response.json()["errors"]
    assert EngagementEvent.objects.count() == 0


def test_every_error_is_reported_at_once(api_client, acme):
    batch = [
        {"id": "a", "account": "nope.example", "activity": "web_visit", "occurred_at": iso()},
        {"id": "b", "account": "acme.com", "activity": "nope", "occurred_at": "soon"},
    ]
    errors = api_client.post("/api/v1/events/", batch, format="json").json()["errors"]
    assert set(errors) == {"0", "1"}
    assert set(errors["1"]) == {"occurred_at"}  # activity is checked once the item parses


def test_malformed_json_oversized_batch_and_non_objects(api_client, acme, settings):
    response = api_client.post("/api/v1/events/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    settings.MQAFLOW_EVENT_BATCH_MAX = 2
    event = {"id": "x", "account": "acme.com", "activity": "web_visit", "occurred_at": iso()}
    response = api_client.post("/api/v1/events/", [event] * 3, format="json")
    assert response.status_code == 400
    assert "At most 2 events" in response.json()["non_field_errors"][0]
    response = api_client.post("/api/v1/events/", [1, "x"], format="json")
    assert response.status_code == 400
    assert EngagementEvent.objects.count() == 0


def test_a_year_old_backfill_is_valid(api_client, acme):
    response = api_client.post(
        "/api/v1/events/",
        [{"id": "old", "account": "acme.com", "activity": "web_visit", "occurred_at": iso(400)}],
        format="json",
    )
    assert response.status_code == 201


def test_unauthenticated_requests_get_401(acme):
    client = APIClient()
    for path in ("/api/v1/events/", "/api/v1/accounts/", "/api/v1/owners/", "/api/v1/contacts/"):
        assert client.get(path).status_code == 401
    assert client.post("/api/v1/events/", [], format="json").status_code == 401


def test_large_batch_uses_a_bounded_number_of_queries(
    api_client, acme, django_assert_max_num_queries
):
    batch = [
        {
            "id": f"bulk-{i}",
            "account": "acme.com",
            "contact": "vp@acme.com" if i % 2 else None,
            "activity": "web_visit",
            "occurred_at": iso(i % 80),
        }
        for i in range(5000)
    ]
    with django_assert_max_num_queries(30):
        response = api_client.post("/api/v1/events/", batch, format="json")
    assert response.json() == {"created": 5000, "duplicates": 0}


def test_ingest_enqueues_one_recompute_per_batch(
    api_client, acme, django_capture_on_commit_callbacks
):
    batch = [
        {"id": f"c-{i}", "account": "acme.com", "activity": "web_visit", "occurred_at": iso()}
        for i in range(50)
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post("/api/v1/events/", batch, format="json")
    assert len(callbacks) == 1


def test_list_events_and_schema(api_client, acme):
    api_client.post(
        "/api/v1/events/",
        [{"id": "l1", "account": "acme.com", "activity": "web_visit", "occurred_at": iso()}],
        format="json",
    )
    rows = api_client.get("/api/v1/events/?account=acme.com").json()["results"]
    assert [r["id"] for r in rows] == ["l1"]
    assert api_client.get("/api/v1/events/?since=garbage").status_code == 400
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in ("/api/v1/events/", "/api/v1/accounts/{domain}/", "/api/v1/owners/"):
        assert path in body
