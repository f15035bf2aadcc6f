from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from plays.models import DismissReason
from tests.factories import (
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    roles = ("ceo", "mgr", "adr", "peer", "other_mgr", "other_adr")
    people = org_chart(*roles)
    ceo, mgr, adr, peer, other_mgr, other_adr = (people[role] for role in roles)
    play = qualified_play(adr, domain="acme.com")
    account = play.account
    return locals()


def client_for(owner=None, *, staff=False):
    client = APIClient()
    if owner is not None:
        if staff:
            owner.user.is_staff = True
            owner.user.save()
        client.force_authenticate(owner.user)
    return client


def test_list_shows_plays_with_their_notices_to_those_who_may_see_them(world):
    rows = client_for(world["adr"]).get("/api/v1/plays/").json()["results"]
    assert [r["account"] for r in rows] == ["acme.com"]
    assert set(rows[0]) >= {
        "id",
        "account",
        "assignee",
        "status",
        "created_at",
        "due_at",
        "started_at",
        "escalations",  # the play's notices, under the field's old name (API stable)
    }
    assert rows[0]["escalations"][0]["step"] == 0
    assert client_for(world["mgr"]).get("/api/v1/plays/").json()["count"] == 1
    assert client_for(world["ceo"]).get("/api/v1/plays/").json()["count"] == 1
    assert client_for(world["other_adr"]).get("/api/v1/plays/").json()["count"] == 0
    assert client_for(world["other_adr"], staff=True).get("/api/v1/plays/").json()["count"] == 1
    assert client_for().get("/api/v1/plays/").status_code == 401
    filtered = client_for(world["ceo"]).get("/api/v1/plays/?status=started").json()
    assert filtered["count"] == 0
    assert client_for(world["ceo"]).get("/api/v1/plays/?status=nope").status_code == 400


@pytest.mark.parametrize(
    ("who", "action", "payload", "expected"),
    [
        ("adr", "start", {"message": "Hello"}, 200),
        ("mgr", "start", {}, 403),
        ("other_adr", "start", {}, 403),
        ("other_mgr", "complete", {}, 403),
        ("adr", "dismiss", {"reason": "wrong-fit", "note": "a reseller"}, 200),
        ("adr", "dismiss", {"reason": "managers-only"}, 403),
        ("peer", "dismiss", {"reason": "wrong-fit"}, 403),
        ("other_adr", "dismiss", {"reason": "wrong-fit"}, 403),
        ("mgr", "dismiss", {"reason": "wrong-fit"}, 200),
        ("ceo", "dismiss", {"reason": "bad-data", "note": "test account"}, 200),
        ("other_mgr", "dismiss", {"reason": "wrong-fit"}, 403),
        ("mgr", "reassign", {"owner": "PEER"}, 200),
        ("mgr", "reassign", {"owner": "OTHER"}, 403),
        ("ceo", "reassign", {"owner": "OTHER"}, 200),
        ("adr", "reassign", {"owner": "OTHER"}, 403),
        ("other_mgr", "reassign", {"owner": "OTHER"}, 403),
    ],
)
def test_permissions_of_every_play_action(world, who, action, payload, expected):
    DismissReason.objects.create(slug="managers-only", label="Managers only", adr_may_use=False)
    if payload.get("owner") == "OTHER":
        payload = {"owner": world["other_adr"].email}
    if payload.get("owner") == "PEER":
        payload = {"owner": world["peer"].email}
    play = world["play"]
    response = client_for(world[who]).post(
        f"/api/v1/plays/{play.pk}/{action}/", payload, format="json"
    )
    assert response.status_code == expected, response.content
    play.refresh_from_db()
    if expected == 403:
        assert play.status == "pending" and play.assignee == world["adr"]


def test_disallowed_transitions_get_409_and_bad_input_400(world):
    play, adr = world["play"], world["adr"]
    client = client_for(adr)
    assert client.post(f"/api/v1/plays/{play.pk}/complete/").status_code == 409
    assert client.post(f"/api/v1/plays/{play.pk}/start/", {"message": "Hi"}).status_code == 200
    again = client.post(f"/api/v1/plays/{play.pk}/start/")
    assert again.status_code == 409 and "started" in again.json()["detail"]
    assert client.post(f"/api/v1/plays/{play.pk}/complete/").status_code == 200
    manager = client_for(world["mgr"])
    bad = manager.post(f"/api/v1/plays/{play.pk}/dismiss/", {"reason": "because"})
    assert bad.status_code == 400 and "reason" in bad.json()
    assert (
        manager.post(f"/api/v1/plays/{play.pk}/dismiss/", {"reason": "wrong-fit"}).status_code
        == 409
    )
    bad = manager.post(f"/api/v1/plays/{play.pk}/reassign/", {"owner": "nobody@x.example"})
    assert bad.status_code == 400 and "owner" in bad.json()
    play.refresh_from_db()
    assert play.status == "completed" and play.message == "Hi"
    assert [entry.kind for entry in play.log_entries.all()] == ["created", "started", "completed"]


def test_reassignment_is_recorded_and_keeps_the_clock(world):
    play = world["play"]
    due = play.due_at
    response = client_for(world["mgr"]).post(
        f"/api/v1/plays/{play.pk}/reassign/", {"owner": world["peer"].email}
    )
    assert response.status_code == 200
    play.refresh_from_db()
    assert play.assignee == world["peer"] and play.due_at == due
    entry = play.log_entries.get(kind="reassigned")
    assert "Moved from Ana ADR to Bo Peer" in entry.note and entry.actor == world["mgr"].user
    assert entry.from_assignee == world["adr"] and entry.to_assignee == world["peer"]


def test_reassignment_can_restart_the_clock(world, settings):
    settings.MQAFLOW_REASSIGN_SLA_CLOCK = "restart"
    play = world["play"]
    due = play.due_at
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        client_for(world["mgr"]).post(
            f"/api/v1/plays/{play.pk}/reassign/", {"owner": world["peer"].email}
        )
    play.refresh_from_db()
    assert play.due_at > due
    assert "restarted" in play.log_entries.get(kind="reassigned").note
