from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from mqaflow.qualification.engine import accounts_evaluate
from plays.models import Play
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    OwnerFactory,
    activity,
    org_chart,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    roles = ("ceo", "mgr", "adr", "other_mgr", "other_adr")
    people = org_chart(*roles)
    ceo, mgr, adr, other_mgr, other_adr = (people[role] for role in roles)
    account = AccountFactory(name="Acme", domain="acme.com", funnel=1, owner=adr)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, name="Jane Doe", seniority="vp", persona="it"),
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    EventFactory(account=account, activity=activity("web_visit"))  # anonymous
    accounts_evaluate(account_ids=[account.pk])
    play = Play.objects.get(account=account)
    return locals()


def login(owner, *, csrf=False):
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(owner.user)
    return client


def test_pages_need_a_login_and_email_links_come_back_after_it(world):
    client = Client()
    for url in ("/", "/plays/", f"/plays/{world['play'].pk}/", "/team/", "/reports/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    page = client.get(f"/accounts/login/?next=/plays/{world['play'].pk}/")
    assert page.status_code == 200 and b'name="next"' in page.content
    world["adr"].user.set_password("s3cret-pass")
    world["adr"].user.save()
    response = client.post(
        "/accounts/login/",
        {
            "username": world["adr"].email,
            "password": "s3cret-pass",
            "next": f"/plays/{world['play'].pk}/",
        },
    )
    assert response["Location"] == f"/plays/{world['play'].pk}/"


def test_my_plays_lists_the_open_play_with_countdown_and_explanation(world):
    page = login(world["adr"]).get("/plays/")
    html = page.content.decode()
    assert "Acme" in html and "due in 23 h 59 min" in html
    assert "Act Now: Demo requested" in html
    assert "sla-ok" in html
    closed = login(world["adr"]).get("/plays/?tab=closed").content.decode()
    assert "Acme" not in closed


def test_play_detail_shows_everything_an_adr_needs(world):
    html = login(world["adr"]).get(f"/plays/{world['play'].pk}/").content.decode()
    for text in (
        "Why it qualified",
        "Funnel 1 (target)",
        "Jane Doe",
        "Anonymous visitor",
        "First touch",
        "Hi Jane",
        "Start play",
        "New play",
    ):
        assert text in html, text
    assert "Reassign" not in html  # the ADR does not manage their own play


def test_play_detail_lists_contacts_most_senior_first(world):
    account = world["account"]
    for name, seniority in (("Ivy Ic", "individual"), ("Dan Director", "director")):
        ContactFactory(account=account, name=name, seniority=seniority, persona="it")
    html = login(world["adr"]).get(f"/plays/{world['play'].pk}/").content.decode()
    contacts = html[html.index('id="who"') :]
    order = [contacts.index(name) for name in ("Jane Doe", "Dan Director", "Ivy Ic")]
    # By rank (VP, director, individual), not by the values' spelling ("individual" < "vp").
    assert order == sorted(order)


def test_adr_cannot_open_another_adrs_play_and_outside_manager_neither(world):
    url = f"/plays/{world['play'].pk}/"
    assert login(world["other_adr"]).get(url).status_code == 404
    assert login(world["other_mgr"]).get(url).status_code == 404
    assert login(world["mgr"]).get(url).status_code == 200
    assert login(world["ceo"]).get(url).status_code == 200
    manager_html = login(world["mgr"]).get(url).content.decode()
    assert "Reassign" in manager_html and "Dismiss" in manager_html
    assert "Start play" not in manager_html


def test_start_then_complete_through_the_views(world):
    play, client = world["play"], login(world["adr"])
    response = client.post(f"/plays/{play.pk}/start/", {"message": "Hi Jane, edited."})
    assert response.status_code == 302
    play.refresh_from_db()
    assert play.status == "started" and play.message == "Hi Jane, edited."
    assert 'data-play="' not in client.get("/plays/?status=pending").content.decode()
    refused = client.post(f"/plays/{play.pk}/complete/", follow=True)  # the UI asks why
    assert "Choose the outcome to complete the play." in refused.content.decode()
    play.refresh_from_db()
    assert play.status == "started"
    client.post(f"/plays/{play.pk}/complete/", {"outcome": "meeting_booked"})
    play.refresh_from_db()
    assert play.status == "completed" and play.outcome == "meeting_booked"
    assert "Acme" in client.get("/plays/?tab=closed").content.decode()
    assert "Outcome: Meeting booked" in client.get("/plays/?status=completed").content.decode()
    again = client.post(f"/plays/{play.pk}/start/", follow=True)
    assert b"This play was completed by" in again.content


def test_manager_actions_and_their_permissions(world):
    play = world["play"]
    assert login(world["mgr"]).post(f"/plays/{play.pk}/start/").status_code == 403
    assert (
        login(world["adr"])
        .post(f"/plays/{play.pk}/reassign/", {"owner": world["other_adr"].pk})
        .status_code
        == 403
    )
    assert (
        login(world["other_mgr"]).post(f"/plays/{play.pk}/dismiss/", {"reason": 1}).status_code
        == 404
    )
    from plays.models import DismissReason

    reason = DismissReason.objects.get(slug="wrong-fit")
    login(world["mgr"]).post(f"/plays/{play.pk}/dismiss/", {"reason": reason.pk, "note": "SMB"})
    play.refresh_from_db()
    assert play.status == "dismissed" and play.dismissed_note == "SMB"


def test_reassign_via_view_within_the_team_lands_on_a_page_that_says_so(
    world, django_capture_on_commit_callbacks
):
    from django.core import mail

    play = world["play"]
    peer = OwnerFactory(name="Pia Peer", manager=world["mgr"])
    client = login(world["mgr"])
    page = client.get(f"/plays/{play.pk}/").content.decode()
    assert "Pia Peer" in page and "Olga ADR" not in page  # only the manager's own team
    outside = client.post(f"/plays/{play.pk}/reassign/", {"owner": world["other_adr"].pk})
    assert outside.status_code == 403
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/plays/{play.pk}/reassign/", {"owner": peer.pk}, follow=True)
    assert response.status_code == 200
    assert "Reassigned the Acme play from Ana ADR to Pia Peer" in response.content.decode()
    play.refresh_from_db()
    assert play.assignee == peer
    assert [m.to for m in mail.outbox] == [[peer.email]]
    assert mail.outbox[0].subject == "Play assigned to you: Acme"


def test_every_post_enforces_csrf(world):
    play = world["play"]
    for action, who in (
        ("start", "adr"),
        ("complete", "adr"),
        ("dismiss", "mgr"),
        ("reassign", "mgr"),
    ):
        response = login(world[who], csrf=True).post(f"/plays/{play.pk}/{action}/", {})
        assert response.status_code == 403, action
    assert login(world["adr"], csrf=True).post("/accounts/logout/").status_code == 403
    play.refresh_from_db()
    assert play.status == "pending"


def test_get_on_action_urls_is_refused(world):
    assert login(world["adr"]).get(f"/plays/{world['play'].pk}/start/").status_code == 405


def test_team_page_for_managers_shows_breached_plays(world):
    play = world["play"]
    Play.objects.filter(pk=play.pk).update(
        created_at=play.created_at - timedelta(hours=30),
        due_at=play.due_at - timedelta(hours=30),
        remind_at=play.remind_at - timedelta(hours=30),
    )
    html = login(world["ceo"]).get("/team/").content.decode()
    assert "Ana ADR" in html and "Acme" in html and "overdue by 6 h" in html
    assert login(world["adr"]).get("/team/").status_code == 404
    assert login(world["other_mgr"]).get("/team/").content.decode().count("Acme") == 0


def test_reports_page_chart_table_and_csv(world):
    client = login(world["adr"])
    html = client.get("/reports/?period=week").content.decode()
    assert "<svg" in html and "New MQAs" in html
    other = AccountFactory(funnel=1, owner=world["adr"])
    EventFactory(
        account=other,
        contact=ContactFactory(account=other),
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=31),
    )
    accounts_evaluate(account_ids=[other.pk], now=datetime.now(UTC) - timedelta(hours=30))
    late = Play.objects.get(account=other)  # breached, never started
    client.post(f"/plays/{world['play'].pk}/start/", {"message": "hi"})
    html = client.get("/reports/?period=week").content.decode()
    assert "50 %" in html  # one of two decided plays started on time
    assert late.status == "pending"
    csv = client.get("/reports/mqas.csv?period=month").content.decode()
    assert csv.splitlines()[0] == "month,funnel,size_band,new_mqas"
    assert csv.splitlines()[1].endswith(",1,large,2")
    bad = client.get("/reports/?period=year&start=2026-02-30")
    assert bad.status_code == 400
    assert b"Select a valid choice" in bad.content and b"Enter a valid date" in bad.content
    assert client.get("/reports/mqas.csv?start=2026-05-01&end=2026-01-01").status_code == 400


def test_home_redirects_adrs_and_managers(world):
    assert login(world["adr"]).get("/")["Location"] == "/plays/"
    assert login(world["ceo"]).get("/")["Location"] == "/team/"


def test_password_reset_flow_pages(world, mailoutbox):
    client = Client()
    assert client.get("/accounts/password_reset/").status_code == 200
    world["adr"].user.set_password("old-pass-123")
    world["adr"].user.save()
    client.post("/accounts/password_reset/", {"email": world["adr"].email})
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body
