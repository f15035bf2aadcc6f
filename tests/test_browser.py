"""Real browser tests: Playwright driving Debian's chromium against a live server.

Screenshots of every page land in artifacts/screenshots/ (kept by CI).
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mqaflow.qualification.engine import evaluate_accounts
from plays.models import Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, OwnerFactory, activity

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
PASSWORD = "browser-pass-1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between page actions are ordinary synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def world():
    ceo = OwnerFactory(name="Catherine Okafor", title="CEO")
    mgr = OwnerFactory(name="Maya Chen", title="ADR Manager", manager=ceo)
    adr = OwnerFactory(name="Ana Souza", manager=mgr)
    for owner in (mgr, adr):
        owner.user.set_password(PASSWORD)
        owner.user.save()
    now = datetime.now(UTC)
    plays = {}
    for name, hours_ago in (("Acme Robotics", 1), ("Globex Energy", 30)):
        account = AccountFactory(name=name, funnel=1, owner=adr, employees=800)
        jane = ContactFactory(account=account, name="Jane Doe", seniority="vp", persona="it")
        EventFactory(
            account=account,
            contact=jane,
            activity=activity("webinar_attended"),
            minutes=60,
            occurred_at=now - timedelta(hours=hours_ago + 5),
        )
        EventFactory(
            account=account,
            contact=jane,
            activity=activity("demo_request"),
            occurred_at=now - timedelta(hours=hours_ago + 1),
        )
        evaluate_accounts([account.pk], now=now - timedelta(hours=hours_ago))
        plays[name] = Play.objects.get(account=account)
    return {"adr": adr, "mgr": mgr, "plays": plays}


def log_in(page, live_server, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_adr_starts_a_play_and_it_leaves_the_open_list(browser, live_server, world):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server, world["adr"])
    page.wait_for_url(f"{live_server.url}/plays/")
    acme = page.locator("li.play", has_text="Acme Robotics")
    assert "due in 22 h" in acme.locator(".sla").inner_text()
    assert "overdue by 6 h" in page.locator("li.play", has_text="Globex").inner_text()
    shot(page, "my-plays")

    acme.get_by_role("link", name="Acme Robotics").click()
    page.wait_for_selector("text=Why it qualified")
    message = page.get_by_label("Your first-touch email")
    assert "Hi Jane" in message.input_value()
    message.fill("Hi Jane, thanks for requesting a demo — does Tuesday work?")
    shot(page, "play-detail")
    page.get_by_role("button", name="Start play").click()
    page.wait_for_selector("text=Started the play for Acme Robotics")
    shot(page, "play-started")

    page.goto(f"{live_server.url}/plays/?status=pending")
    assert page.locator("li.play", has_text="Acme Robotics").count() == 0
    assert page.locator("li.play", has_text="Globex").count() == 1
    play = world["plays"]["Acme Robotics"]
    play.refresh_from_db()
    assert play.status == "started" and play.message.startswith("Hi Jane, thanks")
    page.close()


def test_manager_sees_the_breached_play_of_a_report(browser, live_server, world):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server, world["mgr"])
    page.wait_for_url(f"{live_server.url}/team/")
    breached = page.locator("li.play", has_text="Globex Energy")
    assert "overdue" in breached.locator(".sla").inner_text()
    assert "sla-overdue" in breached.locator(".sla").get_attribute("class")
    shot(page, "team")
    page.close()


def test_reports_page_renders_its_chart_at_phone_width(browser, live_server, world):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log_in(page, live_server, world["adr"])
    page.goto(f"{live_server.url}/reports/?period=week")
    assert page.locator("#mqa-chart svg").count() == 1
    assert page.locator("table").first.is_visible()
    shot(page, "reports-phone")
    page.close()


def test_start_after_a_reassignment_says_who_took_it_and_keeps_the_typed_text(
    browser, live_server, world
):
    peer = OwnerFactory(name="Pia Peer", manager=world["mgr"])
    play = world["plays"]["Acme Robotics"]
    adr_context, mgr_context = browser.new_context(), browser.new_context()
    adr_page = adr_context.new_page()
    adr_page.set_viewport_size({"width": 1280, "height": 900})
    log_in(adr_page, live_server, world["adr"])
    adr_page.wait_for_url(f"{live_server.url}/plays/")
    adr_page.goto(f"{live_server.url}/plays/{play.pk}/")
    typed = "Hi Jane, I saw your demo request: would Tuesday at 10 work for you?"
    adr_page.get_by_label("Your first-touch email").fill(typed)

    # meanwhile the manager hands the play to someone else on the team
    mgr_page = mgr_context.new_page()
    log_in(mgr_page, live_server, world["mgr"])
    mgr_page.wait_for_url(f"{live_server.url}/team/")
    mgr_page.goto(f"{live_server.url}/plays/{play.pk}/")
    mgr_page.get_by_label("Reassign to").select_option(label=str(peer))
    mgr_page.get_by_role("button", name="Reassign").click()
    mgr_page.wait_for_selector("text=Reassigned the Acme Robotics play from Ana Souza to Pia Peer")
    shot(mgr_page, "manager-reassigned")

    adr_page.get_by_role("button", name="Start play").click()
    adr_page.wait_for_selector("text=reassigned to Pia Peer by Maya Chen")
    assert adr_page.locator(".kept-draft").first.input_value() == typed
    shot(adr_page, "adr-start-after-reassign")
    play.refresh_from_db()
    assert play.status == "pending" and play.assignee == peer
    adr_context.close()
    mgr_context.close()
