"""Every API error answers JSON in one shape: {"detail", "code", "errors"} (issue #17)."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from rest_framework.test import APIClient

from mqaflow.models import MQAClause, MQATransition
from plays import services
from tests.factories import (
    AccountFactory,
    EventFactory,
    OwnerFactory,
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db


def assert_error(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["errors"], dict)
    if code:
        assert body["code"] == code, body
    return body


@pytest.fixture
def play():
    adr = org_chart("mgr", "adr")["adr"]
    return qualified_play(adr, domain="acme.com")


@pytest.mark.parametrize("action", ["", "start/", "complete/", "reassign/", "dismiss/"])
@pytest.mark.parametrize("pk", ["abc", "1.5", "99999999999999999999999"])
def test_a_non_numeric_play_id_is_a_json_404(api_client, action, pk):
    method = api_client.get if not action else api_client.post
    assert_error(method(f"/api/v1/plays/{pk}/{action}", {}, format="json"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/plays/1.5/", "/api/", "/api/v1/"])
def test_unmatched_api_paths_answer_json_404(api_client, path):
    assert_error(api_client.get(path), 404, "not_found")
    assert_error(Client().get(path), 404)


def test_unmatched_paths_outside_the_api_stay_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_401_403_405_409_in_the_error_shape(api_client, play):
    body = assert_error(Client().get("/api/v1/accounts/"), 401, "not_authenticated")
    assert "credentials" in body["detail"]
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    assert_error(bad.get("/api/v1/accounts/"), 401, "authentication_failed")

    other = OwnerFactory(name="Other")
    client = Client()
    client.force_login(other.user)
    body = assert_error(
        client.post(f"/api/v1/plays/{play.pk}/start/", {}, content_type="application/json"),
        403,
        "permission_denied",
    )

    assert_error(api_client.delete("/api/v1/accounts/acme.com/"), 405, "method_not_allowed")
    assert_error(api_client.put("/api/v1/events/", {}, format="json"), 405)

    services.play_start(play=play, by=play.assignee.user)
    services.play_complete(play=play, by=play.assignee.user)
    client.force_login(play.assignee.user)
    body = assert_error(
        client.post(f"/api/v1/plays/{play.pk}/start/", {}, content_type="application/json"),
        409,
        "conflict",
    )
    assert "completed" in body["detail"].lower()


def test_400_keeps_field_names_at_the_top_level_and_in_errors(api_client):
    response = api_client.post("/api/v1/owners/", {"email": "not-an-email"}, format="json")
    body = assert_error(response, 400, "invalid")
    assert set(body["errors"]) == {"email", "name"}
    assert body["email"] == body["errors"]["email"]  # the shape clients already read
    assert "email" in body["detail"] and "name" in body["detail"]


def test_event_batch_errors_keep_their_index_keys(api_client):
    response = api_client.post(
        "/api/v1/events/", [{"id": "x"}, {"id": "y", "account": "acme.com"}], format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert set(body["errors"]) == {"0", "1"}
    assert "occurred_at" in body["errors"]["1"]
    single = assert_error(api_client.post("/api/v1/events/", {"id": "x"}, format="json"), 400)
    assert "account" in single and "account" in single["errors"]


def test_413_414_and_415_in_the_error_shape(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert_error(
        api_client.post("/api/v1/events/", [{"id": "x" * 200}], format="json"),
        413,
        "payload_too_large",
    )
    assert_error(api_client.get("/api/v1/accounts/?owner=" + "a" * 5000), 414, "uri_too_long")
    assert_error(
        api_client.post("/api/v1/owners/", "<owner/>", content_type="application/xml"),
        415,
        "unsupported_media_type",
    )


def test_429_in_the_error_shape_with_retry_after(api_client, settings, monkeypatch):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/min", "user": "1/min"},
    }
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"anon": "1/min", "user": "1/min"})
    api_client.get("/api/v1/owners/")
    response = api_client.get("/api/v1/owners/")
    body = assert_error(response, 429, "throttled")
    assert "throttled" in body["detail"].lower()
    assert 0 < int(response["Retry-After"]) <= 60  # a 1/min window


def test_500_is_json_and_does_not_leak(api_client, monkeypatch):
    def boom(self, *args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("mqaflow.api.views.OwnerViewSet.list", boom)
    client = Client(raise_request_exception=False)
    from mqaflow.tokens import token_issue

    owner = OwnerFactory()
    _, key = token_issue(user=owner.user, name="t")
    response = client.get("/api/v1/owners/", HTTP_AUTHORIZATION=f"Token {key}")
    body = assert_error(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    assert body["errors"] == {}


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=9223372036854775808", "limit"),
        ("limit=100000000", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=%D9%A5", "limit"),  # an Arabic-Indic five: int() would take it
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("offset=99999999999999999999999", "offset"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/owners/",
        "/api/v1/accounts/",
        "/api/v1/contacts/",
        "/api/v1/events/",
        "/api/v1/plays/",
        "/api/v1/accounts/acme.com/mqa-history/",
    ],
)
def test_limit_and_offset_are_integers_in_range(api_client, path, query, field):
    AccountFactory(domain="acme.com")
    body = assert_error(api_client.get(f"{path}?{query}"), 400, "invalid")
    assert list(body["errors"]) == [field]


def test_a_page_size_over_the_cap_says_so(api_client):
    body = api_client.get("/api/v1/accounts/?limit=100000000").json()
    assert "1000" in body["limit"][0]
    assert api_client.get("/api/v1/accounts/?limit=1000&offset=5").status_code == 200


def test_mqa_history_clause_is_null_when_the_transition_has_none(api_client, play):
    transition = MQATransition.objects.create(
        account=play.account,
        from_status="mqa",
        to_status="not_qualified",
        at=datetime.now(UTC),
        funnel=1,
    )
    rows = api_client.get("/api/v1/accounts/acme.com/mqa-history/").json()["results"]
    newest = rows[0]
    assert newest["to_status"] == "not_qualified"
    assert newest["clause"] is None and newest["rule"] is None and newest["act_now_rule"] is None
    MQATransition.objects.filter(pk=transition.pk).update(clause=MQAClause.objects.first())
    newest = api_client.get("/api/v1/accounts/acme.com/mqa-history/").json()["results"][0]
    assert newest["clause"] == str(MQAClause.objects.first())


@pytest.mark.parametrize(
    "since",
    ["2026-13-45T00:00:00", "yesterday", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+14:00"],
)
def test_events_since_must_be_a_datetime(api_client, since):
    body = assert_error(api_client.get("/api/v1/events/", {"since": since}), 400)
    assert list(body["errors"]) == ["since"]


def test_events_since_filters(api_client):
    account = AccountFactory(domain="acme.com")
    EventFactory(account=account, external_id="old", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    EventFactory(account=account, external_id="new", occurred_at=datetime(2026, 3, 1, tzinfo=UTC))
    rows = api_client.get("/api/v1/events/?since=2026-02-01T00:00:00Z&account=ACME.com").json()
    assert [r["id"] for r in rows["results"]] == ["new"]
