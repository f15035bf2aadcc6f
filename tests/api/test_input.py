"""Input the database cannot take, or that is not what it claims, is a 400 naming the field
or parameter (issue #11, parts 2, 5 and 6) — never a 500, and nothing stored."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from mqaflow.models import Account, Contact, EngagementEvent, Owner
from mqaflow.qualification.engine import accounts_evaluate
from plays.models import Play
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    OwnerFactory,
    activity,
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def post_raw(client, path, text, method="post"):
    """Send JSON text as is (a lone surrogate must arrive as the escape "\\ud800")."""
    return getattr(client, method)(path, text, content_type="application/json")


def errors_of(response, status=400):
    assert response.status_code == status, (response.status_code, response.content[:300])
    return response.json()["errors"]


@pytest.fixture
def acme():
    account = AccountFactory(domain="acme.com", funnel=1)
    ContactFactory(account=account, email="jane@acme.com")
    return account


# --- query parameters ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, param",
    [
        ("/api/v1/plays/", "assignee"),
        ("/api/v1/plays/", "account"),
        ("/api/v1/plays/", "status"),
        ("/api/v1/events/", "account"),
        ("/api/v1/events/", "since"),
        ("/api/v1/contacts/", "account"),
        ("/api/v1/accounts/", "owner"),
        ("/api/v1/accounts/", "mqa_status"),
        ("/api/v1/owners/", "anything"),
        ("/api/v1/reports/mqas/", "from"),
    ],
)
def test_nul_in_a_query_parameter_is_a_400_naming_it(api_client, path, param):
    response = api_client.get(f"{path}?{param}=a%00b")
    assert list(errors_of(response)) == [param]
    assert "NUL" in errors_of(response)[param][0]


def test_nul_in_a_parameter_name_is_a_400(api_client):
    assert "a\x00" in errors_of(api_client.get("/api/v1/accounts/?a%00=1"))


@pytest.mark.parametrize(
    "query, param",
    [
        ("funnel=abc", "funnel"),
        ("funnel=4", "funnel"),
        ("funnel=%EF%BC%91", "funnel"),  # a full-width digit one
        ("mqa_status=bogus", "mqa_status"),
        ("owner=" + "a" * 255, "owner"),
    ],
)
def test_account_filters_are_validated(api_client, query, param):
    assert list(errors_of(api_client.get(f"/api/v1/accounts/?{query}"))) == [param]


@pytest.mark.parametrize(
    "path, query, param",
    [
        ("/api/v1/accounts/", "funnel=", "funnel"),
        ("/api/v1/accounts/", "limit=", "limit"),
        ("/api/v1/events/", "since=", "since"),
        ("/api/v1/plays/", "status=", "status"),
        ("/api/v1/reports/mqas/", "period=", "period"),
    ],
)
def test_a_typed_parameter_given_empty_is_a_400(api_client, path, query, param):
    assert list(errors_of(api_client.get(f"{path}?{query}"))) == [param]


def test_an_empty_text_filter_filters_nothing(api_client, acme):
    assert api_client.get("/api/v1/accounts/?owner=").json()["count"] == 1


@pytest.mark.parametrize(
    "field, value",
    [("funnel", "1"), ("employees", "12"), ("name", 5), ("excluded", "yes"), ("owner", 3)],
)
def test_json_values_of_the_wrong_type_are_a_400(api_client, field, value):
    body = {"domain": "typed.example", "name": "Typed", "funnel": 1, field: value}
    response = api_client.post("/api/v1/accounts/", body, format="json")
    assert list(errors_of(response)) == [field]
    assert not Account.objects.filter(domain="typed.example").exists()


def test_form_posts_keep_their_coercions(api_client):
    body = {"domain": "form.example", "name": "Form", "funnel": "2", "excluded": "false"}
    response = api_client.post("/api/v1/accounts/", body)  # multipart, as forms send
    assert response.status_code == 201, response.json()
    assert Account.objects.get(domain="form.example").funnel == 2


def test_account_filters_still_filter(api_client, acme):
    AccountFactory(domain="other.com", funnel=2)
    rows = api_client.get("/api/v1/accounts/?funnel=1&mqa_status=not_qualified").json()
    assert [r["domain"] for r in rows["results"]] == ["acme.com"]


@pytest.mark.parametrize(
    "query, params",
    [
        ("period=day", {"period"}),
        ("from=2026-13-01", {"from"}),
        ("from=2026-11-02&to=2026-11-01", {"to"}),
        ("to=yesterday&from=x", {"from", "to"}),
    ],
)
def test_report_parameters_are_validated(api_client, query, params):
    assert set(errors_of(api_client.get(f"/api/v1/reports/mqas/?{query}"))) == params


# --- path lookups ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/owners/%00/",
        "/api/v1/owners/a%00b@s.example/",
        "/api/v1/accounts/%00/",
        "/api/v1/accounts/acme%00.com/",
        "/api/v1/accounts/%00/mqa-history/",
        "/api/v1/owners/%ED%A0%80/",  # the UTF-8 bytes of a lone surrogate
        "/api/v1/accounts/" + "a" * 300 + "/",
    ],
)
def test_a_path_that_cannot_name_anything_is_a_json_404(api_client, acme, path):
    for response in (api_client.get(path), api_client.patch(path, {}, format="json")):
        assert response.status_code == 404, response.content[:200]
        assert response.json()["code"] == "not_found"


# --- owners, accounts, contacts -------------------------------------------------------------


@pytest.mark.parametrize("length", [151, 200, 254])
def test_an_owner_email_longer_than_a_username_is_a_400(api_client, length):
    email = "a" * (length - len("@s.example")) + "@s.example"
    response = api_client.post("/api/v1/owners/", {"email": email, "name": "A"}, format="json")
    assert list(errors_of(response)) == ["email"]
    assert not Owner.objects.filter(name="A").exists()
    assert not get_user_model().objects.filter(email=email).exists()


def test_an_owner_email_of_150_characters_is_fine(api_client):
    email = "a" * (150 - len("@s.example")) + "@s.example"
    response = api_client.post("/api/v1/owners/", {"email": email, "name": "A"}, format="json")
    assert response.status_code == 201, response.json()


SURROGATE = '"x\\ud800y"'


@pytest.mark.parametrize("field", ["email", "name", "title", "manager"])
def test_a_lone_surrogate_in_an_owner_field_is_a_400(api_client, field):
    body = {"email": '"ana@s.example"', "name": '"Ana"', field: SURROGATE}
    text = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
    assert list(errors_of(post_raw(api_client, "/api/v1/owners/", text))) == [field]


@pytest.mark.parametrize(
    "field", ["domain", "name", "industry", "owner", "excluded_reason", "external_id"]
)
def test_a_lone_surrogate_or_nul_in_an_account_field_is_a_400(api_client, field):
    for bad in (SURROGATE, '"x\\u0000y"'):
        body = {"domain": '"new.example"', "name": '"New"', "funnel": "1", field: bad}
        text = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
        assert field in errors_of(post_raw(api_client, "/api/v1/accounts/", text))
    assert not Account.objects.filter(name="New").exists()


@pytest.mark.parametrize("field", ["account", "email", "name", "title"])
def test_a_lone_surrogate_or_nul_in_a_contact_field_is_a_400(api_client, acme, field):
    for bad in (SURROGATE, '"x\\u0000y"'):
        body = {"account": '"acme.com"', "email": '"bob@acme.com"', field: bad}
        text = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
        assert field in errors_of(post_raw(api_client, "/api/v1/contacts/", text))
    assert not Contact.objects.filter(email="bob@acme.com").exists()


@pytest.mark.parametrize(
    "domain", ["a/b.example", "acme com", "acme", "acme..com", "-acme.com", "acme.com:80", "a@b.co"]
)
def test_an_account_domain_must_be_a_domain(api_client, domain):
    response = api_client.post(
        "/api/v1/accounts/", {"domain": domain, "name": "X", "funnel": 1}, format="json"
    )
    assert list(errors_of(response)) == ["domain"]


def test_an_account_domain_is_normalised(api_client):
    response = api_client.post(
        "/api/v1/accounts/", {"domain": "Sub.Acme.COM.", "name": "X", "funnel": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["domain"] == "sub.acme.com"


def test_patch_cannot_change_the_domain_but_may_repeat_it(api_client, acme):
    response = api_client.patch(
        "/api/v1/accounts/acme.com/", {"domain": "other.com"}, format="json"
    )
    assert list(errors_of(response)) == ["domain"]
    response = api_client.patch(
        "/api/v1/accounts/acme.com/", {"domain": "ACME.com", "name": "Acme Inc"}, format="json"
    )
    assert response.status_code == 200, response.json()
    acme.refresh_from_db()
    assert (acme.domain, acme.name) == ("acme.com", "Acme Inc")


# --- events ------------------------------------------------------------------------------


def event(**changes):
    return {
        "id": "e1",
        "account": "acme.com",
        "contact": "jane@acme.com",
        "activity": "web_visit",
        "occurred_at": "2026-11-01T10:00:00Z",
        "source": "hubspot",
        **changes,
    }


@pytest.mark.parametrize("field", ["id", "source", "account", "activity", "contact"])
@pytest.mark.parametrize("bad", ["\\ud800", "\\udfff", "a\\u0000"])
def test_unstorable_text_in_an_event_names_index_and_field(api_client, acme, field, bad):
    items = [event(id="ok"), event(**{"id": "e2", field: "PLACEHOLDER"})]
    text = json.dumps(items).replace('"PLACEHOLDER"', f'"{bad}"')
    errors = errors_of(post_raw(api_client, "/api/v1/events/", text))
    assert list(errors) == ["1"]
    assert list(errors["1"]) == [field]
    assert EngagementEvent.objects.count() == 0


@pytest.mark.parametrize("blank", [" ", "   ", "\t"])
def test_an_event_id_of_only_spaces_is_a_400(api_client, acme, blank):
    errors = errors_of(api_client.post("/api/v1/events/", [event(id=blank)], format="json"))
    assert errors == {"0": {"id": ["Must not be blank."]}}


def test_the_same_id_with_different_content_twice_in_a_batch_names_both(api_client, acme):
    batch = [event(id="a"), event(id="b"), event(id="a", source="other"), event(id="c")]
    errors = errors_of(api_client.post("/api/v1/events/", batch, format="json"))
    assert set(errors) == {"0", "2"}
    assert "index 2" in errors["0"]["id"][0] and "index 0" in errors["2"]["id"][0]
    assert EngagementEvent.objects.count() == 0


@pytest.mark.parametrize("domain", ["a/b.example", "acme com", "acme", "acme.com/x"])
def test_an_event_account_that_is_not_a_domain_is_a_400(api_client, acme, domain):
    errors = errors_of(api_client.post("/api/v1/events/", [event(account=domain)], format="json"))
    assert list(errors["0"]) == ["account"]
    assert errors["0"]["account"][0].startswith("Enter a domain")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("path", ["/api/v1/events/", "/api/v1/accounts/"])
def test_non_finite_json_numbers_are_refused(api_client, acme, constant, path):
    text = json.dumps(event()).replace('"hubspot"', constant)
    if path == "/api/v1/accounts/":
        text = f'{{"domain": "n.example", "name": "N", "funnel": 1, "employees": {constant}}}'
    response = post_raw(api_client, path, text)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert constant in response.json()["detail"] or "JSON" in response.json()["detail"]
    assert EngagementEvent.objects.count() == 0


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:00",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
    ],
)
def test_events_before_1970_are_refused(api_client, acme, stamp):
    errors = errors_of(
        api_client.post("/api/v1/events/", [event(occurred_at=stamp)], format="json")
    )
    assert list(errors["0"]) == ["occurred_at"]
    assert "1970" in errors["0"]["occurred_at"][0]


def test_offsets_postgresql_cannot_take_are_stored_in_utc(api_client, acme):
    stamp = "2026-01-01T20:00:00+16:02"  # Python takes offsets up to ±23:59; PostgreSQL ±15:59
    response = api_client.post("/api/v1/events/", [event(occurred_at=stamp)], format="json")
    assert response.status_code == 201, response.json()
    stored = EngagementEvent.objects.get().occurred_at
    assert stored == datetime(2026, 1, 1, 3, 58, tzinfo=UTC)
    listed = api_client.get("/api/v1/events/", {"since": "2026-01-01T19:00:00+16:02"})
    assert listed.status_code == 200 and listed.json()["count"] == 1


@time_machine.travel(NOW, tick=False)
def test_the_boundaries_are_accepted_and_one_second_beyond_is_not(api_client, acme, settings):
    skew = timedelta(seconds=settings.MQAFLOW_EVENT_FUTURE_SKEW_SECONDS)
    beyond = (NOW + skew + timedelta(seconds=1)).isoformat()
    errors = errors_of(
        api_client.post("/api/v1/events/", [event(occurred_at=beyond)], format="json")
    )
    assert errors["0"]["occurred_at"] == ["Is in the future."]
    batch = [
        event(id="epoch", occurred_at="1970-01-01T00:00:00Z"),
        event(id="edge", occurred_at=(NOW + skew).isoformat()),
    ]
    response = api_client.post("/api/v1/events/", batch, format="json")
    assert response.status_code == 201, response.json()


@time_machine.travel(NOW, tick=False)
def test_boundary_events_render_in_the_api_the_play_page_and_admin(settings):
    skew = timedelta(seconds=settings.MQAFLOW_EVENT_FUTURE_SKEW_SECONDS)
    adr = OwnerFactory(name="ADR")
    adr.user.is_staff = adr.user.is_superuser = True
    adr.user.save()
    account = AccountFactory(domain="acme.com", funnel=1, owner=adr)
    contact = ContactFactory(account=account)
    EventFactory(
        account=account,
        contact=contact,
        external_id="epoch",
        occurred_at=datetime(1970, 1, 1, tzinfo=UTC),
    )
    EventFactory(account=account, contact=contact, external_id="edge", occurred_at=NOW + skew)
    EventFactory(
        account=account,
        contact=contact,
        activity=activity("demo_request"),
        occurred_at=NOW - timedelta(hours=1),
    )
    accounts_evaluate(account_ids=[account.pk])
    play = Play.objects.get(account=account)
    client = Client()
    client.force_login(adr.user)
    listed = client.get("/api/v1/events/?account=acme.com")
    assert listed.status_code == 200
    assert {"epoch", "edge"} <= {r["id"] for r in listed.json()["results"]}
    assert client.get(f"/plays/{play.pk}/").status_code == 200
    assert client.get("/admin/mqaflow/engagementevent/").status_code == 200
    assert client.get("/api/v1/accounts/acme.com/").status_code == 200


# --- plays actions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("start", {"message": "PLACEHOLDER"}, "message"),
        ("dismiss", {"reason": "PLACEHOLDER"}, "reason"),
        ("dismiss", {"reason": "wrong-fit", "note": "PLACEHOLDER"}, "note"),
        ("reassign", {"owner": "PLACEHOLDER"}, "owner"),
    ],
)
def test_unstorable_text_in_a_play_action_is_a_400(api_client, action, body, field):
    people = org_chart("mgr", "adr")
    manager, adr = people["mgr"], people["adr"]
    play = qualified_play(adr, domain="acme.com")
    client = Client()
    client.force_login(adr.user if action == "start" else manager.user)
    for bad in ("\\ud800", "a\\u0000"):
        text = json.dumps(body).replace('"PLACEHOLDER"', f'"{bad}"')
        response = post_raw(client, f"/api/v1/plays/{play.pk}/{action}/", text)
        assert list(errors_of(response)) == [field]
    play.refresh_from_db()
    assert play.status == "pending"
