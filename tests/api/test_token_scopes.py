"""Scoped, expiring API tokens: a token reaches only what its scopes name (403 naming the
scope), an integration token without scopes keeps ingest and directory, an expired token is
refused, `api_token issue --scope --expires`, and admins issue tokens in admin."""

from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from mqaflow.models import ApiToken
from mqaflow.tokens import token_issue
from tests.factories import (
    OwnerFactory,
    UserFactory,
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db


def token_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def play():
    adr = org_chart("mgr", "adr")["adr"]
    return qualified_play(adr, domain="acme.com")


def _event(n):
    return {
        "id": f"s{n}",
        "account": "acme.com",
        "activity": "web_visit",
        "occurred_at": timezone.now().isoformat(),
    }


def test_an_ingest_token_pushes_events_but_not_the_directory(play):
    system = UserFactory(username="crm@seller.example")
    _, key = token_issue(user=system, name="events only", scopes=["ingest"])
    client = token_client(key)
    assert client.post("/api/v1/events/", [_event(1)], format="json").status_code == 201
    response = client.post("/api/v1/accounts/", {"domain": "x.example", "name": "X"})
    assert response.status_code == 403
    assert "directory" in response.json()["detail"]
    response = client.get("/api/v1/owners/")
    assert response.status_code == 403 and "'directory'" in response.json()["detail"]
    response = client.get("/api/v1/plays/")
    assert response.status_code == 403 and "'plays:read'" in response.json()["detail"]


def test_a_directory_token_writes_the_directory_but_not_events(play):
    system = UserFactory(username="crm@seller.example")
    _, key = token_issue(user=system, name="directory", scopes="directory")
    client = token_client(key)
    response = client.post("/api/v1/accounts/", {"domain": "x.example", "name": "X"})
    assert response.status_code == 201, response.content
    assert client.get("/api/v1/reports/mqas/").status_code == 200
    response = client.post("/api/v1/events/", [_event(2)], format="json")
    assert response.status_code == 403 and "'ingest'" in response.json()["detail"]


def test_plays_read_and_write_scopes_act_as_the_tokens_user(play):
    adr_user = play.assignee.user
    _, read_key = token_issue(user=adr_user, name="dashboard", scopes=["plays:read"])
    _, write_key = token_issue(
        user=adr_user, name="sales tool", scopes=["plays:read", "plays:write"]
    )
    reader = token_client(read_key)
    assert [p["id"] for p in reader.get("/api/v1/plays/").json()["results"]] == [play.pk]
    response = reader.post(f"/api/v1/plays/{play.pk}/start/", {}, format="json")
    assert response.status_code == 403 and "'plays:write'" in response.json()["detail"]
    play.refresh_from_db()
    assert play.status == "pending"
    # Not the directory, even though the ADR's own session could read it.
    assert reader.get("/api/v1/accounts/").status_code == 403
    response = token_client(write_key).post(f"/api/v1/plays/{play.pk}/start/", {}, format="json")
    assert response.status_code == 200, response.content
    play.refresh_from_db()
    assert play.status == "started"


def test_a_scope_does_not_widen_a_persons_rights(play):
    """plays:write lets a token act as its user, no more: another ADR's play stays 403."""
    other = OwnerFactory(name="Other ADR")
    _, key = token_issue(user=other.user, name="t", scopes=["plays:read", "plays:write"])
    response = token_client(key).post(f"/api/v1/plays/{play.pk}/start/", {}, format="json")
    assert response.status_code == 403


def test_unscoped_tokens_keep_their_rights(play):
    system = UserFactory(username="crm@seller.example")
    _, integration = token_issue(user=system, name="legacy CRM", integration=True)
    client = token_client(integration)
    assert client.post("/api/v1/events/", [_event(3)], format="json").status_code == 201
    assert client.post("/api/v1/owners/", {"email": "n@s.example", "name": "N"}).status_code == 201
    assert client.get("/api/v1/plays/").status_code == 403
    # A person's token without scopes: the person's own rights, as before.
    _, personal = token_issue(user=play.assignee.user, name="mine")
    client = token_client(personal)
    assert client.get("/api/v1/plays/").json()["count"] == 1
    assert client.get("/api/v1/accounts/").status_code == 200
    assert client.post("/api/v1/owners/", {"email": "m@s.example", "name": "M"}).status_code == 403


def test_an_expired_token_is_refused():
    user = UserFactory(is_staff=True)
    with time_machine.travel(datetime(2026, 12, 31, 23, 0, tzinfo=UTC), tick=False):
        _, key = token_issue(
            user=user, name="t", expires_at=datetime(2027, 1, 1, tzinfo=UTC), scopes=["directory"]
        )
        assert token_client(key).get("/api/v1/accounts/").status_code == 200
    with time_machine.travel(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC), tick=False):
        response = token_client(key).get("/api/v1/accounts/")
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


def test_api_token_command_takes_scopes_and_expiry():
    UserFactory(username="crm@s.example", email="crm@s.example")
    out = StringIO()
    call_command(
        "api_token",
        "issue",
        "crm@s.example",
        "--name",
        "HubSpot",
        "--scope",
        "ingest",
        "--scope",
        "directory,plays:read",
        "--expires",
        "2027-01-01",
        stdout=out,
    )
    token = ApiToken.objects.get(name="HubSpot")
    assert token.scopes == ["ingest", "directory", "plays:read"]
    assert token.expires_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert "Scopes: ingest, directory, plays:read" in out.getvalue()
    with pytest.raises(CommandError, match="plays:admin"):
        call_command("api_token", "issue", "crm@s.example", "--scope", "plays:admin")
    with pytest.raises(CommandError, match="expires"):
        call_command("api_token", "issue", "crm@s.example", "--expires", "next year")
    out = StringIO()
    call_command("api_token", "list", "crm@s.example", stdout=out)
    assert "scopes=ingest,directory,plays:read" in out.getvalue()
    assert "last used never" in out.getvalue()


def test_admin_issues_a_scoped_token_shows_the_key_once_and_the_last_use(client):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    system = UserFactory(username="crm@seller.example")
    client.force_login(admin_user)
    response = client.post(
        "/admin/mqaflow/apitoken/add/",
        {"user": system.pk, "name": "Salesforce", "scopes": ["ingest"], "expires_at": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Salesforce")
    assert token.scopes == ["ingest"]
    shown = [str(m) for m in response.context["messages"]]
    key = shown[0].rsplit(": ", 1)[1]
    assert token_client(key).post("/api/v1/events/", [], format="json").status_code == 400
    token.refresh_from_db()
    assert token.last_used_at is not None
    listing = client.get("/admin/mqaflow/apitoken/").content.decode()
    assert "Salesforce" in listing and "ingest" in listing
    page = client.get(f"/admin/mqaflow/apitoken/{token.pk}/change/").content.decode()
    assert key not in page
