"""Real browser tests: Playwright driving Debian's chromium against a live server.

Screenshots of every page land in artifacts/screenshots/ (kept by CI). Every page is
checked with axe-core (the npm package's script, injected into the page): no serious or
critical accessibility violation is allowed.
"""

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mqaflow.qualification.engine import accounts_evaluate
from plays.models import Play
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    OpportunityFactory,
    OwnerFactory,
    activity,
    org_chart,
)

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "browser-pass-1"
# axe-core comes from the npm registry into a folder git ignores (see `make axe`).
AXE_VERSION = os.environ.get("AXE_CORE_VERSION", "4.10.2")
AXE_DIR = ROOT / "var" / "node"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

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
    people = org_chart(
        "ceo",
        "mgr",
        "adr",
        ceo={"name": "Catherine Okafor", "title": "CEO"},
        mgr={"name": "Maya Chen", "title": "ADR Manager"},
        adr={"name": "Ana Souza"},
    )
    mgr, adr = people["mgr"], people["adr"]
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
        accounts_evaluate(account_ids=[account.pk], now=now - timedelta(hours=hours_ago))
        plays[name] = Play.objects.get(account=account)
    return {"adr": adr, "mgr": mgr, "plays": plays}


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """The axe-core script, installed with npm on first use; no npm is a failure, never a
    silent skip (the accessibility checks are part of the suite)."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the accessibility checks")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(AXE_DIR),
                "--no-audit",
                "--no-fund",
                f"axe-core@{AXE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not AXE_SCRIPT.exists():
            pytest.fail(f"npm could not install axe-core: {done.stderr[-2000:]}")
    return AXE_SCRIPT


def check_axe(page, script: Path, where: str) -> None:
    """Run axe-core on the page as it is; fail on serious or critical violations."""
    page.add_script_tag(path=str(script))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    report = "\n".join(
        f"{v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} node(s), e.g. "
        f"{v['nodes'][0]['target']})"
        for v in bad
    )
    assert not bad, f"axe-core on {where}:\n{report}"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => document.documentElement.clientWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px viewport"


def log_in(page, live_server, owner, password=PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(getattr(owner, "email", None) or owner.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def shot(page, name, *, full_page=True):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def readme_shot(page, name):
    """The first screen, as the README shows it (docs/screenshots/ holds copies of these)."""
    shot(page, f"readme-{name}", full_page=False)


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
    breached = page.locator("tr[data-play]", has_text="Globex Energy")
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


# --- issue 16: the daily tools at 1280 px and 375 px, with axe-core on every page ------------


@pytest.fixture
def team_world(world):
    """The world plus a teammate, an overdue play of theirs and an admin."""
    from tests.factories import UserFactory

    peer = OwnerFactory(name="Ben Carter", manager=world["mgr"])
    peer.user.set_password(PASSWORD)
    peer.user.save()
    now = datetime.now(UTC)
    account = AccountFactory(name="Initech Labs", funnel=2, owner=peer, domain="initech.example")
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, name="Ida Inn", seniority="c_level"),
        activity=activity("demo_request"),
        occurred_at=now - timedelta(hours=3),
    )
    accounts_evaluate(account_ids=[account.pk], now=now - timedelta(hours=2))
    admin = UserFactory(username="root@seller.example", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    OpportunityFactory(  # the play page lists it
        account=world["plays"]["Acme Robotics"].account,
        name="Acme Robotics — fleet management platform rollout",
        stage="negotiation",
        amount=Decimal("1250000.00"),
        currency="EUR",
    )
    return {**world, "peer": peer, "admin": admin, "initech": Play.objects.get(account=account)}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_adr_queue_filter_search_and_keyboard_start(
    browser, live_server, world, axe_script, viewport
):
    page = browser.new_page(viewport=viewport)
    width = viewport["width"]
    page.goto(f"{live_server.url}/accounts/login/")
    check_axe(page, axe_script, f"login at {width}")
    log_in(page, live_server, world["adr"])
    page.wait_for_url(f"{live_server.url}/plays/")
    check_axe(page, axe_script, f"ADR queue at {width}")
    no_sideways_scroll(page)
    shot(page, f"queue-{width}")
    # Overdue says so in words, not only in red
    globex = page.locator("li.play", has_text="Globex")
    assert "overdue by 6 h" in globex.locator(".sla").inner_text()
    assert "Next:" in page.locator("li.play", has_text="Acme").inner_text()

    page.get_by_role("link", name="Overdue").click()
    page.wait_for_url("**/plays/?**due=overdue**")
    assert page.locator("li.play").count() == 1
    assert page.locator("li.play", has_text="Globex").count() == 1

    page.get_by_role("link", name="Open").first.click()
    page.get_by_label("Search by account name or domain").fill("acme")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**q=acme**")
    assert page.locator("li.play").count() == 1
    assert page.locator("li.play", has_text="Acme Robotics").count() == 1

    page.goto(f"{live_server.url}/plays/")
    # focus order starts with the skip link, and focus is visible
    page.keyboard.press("Tab")
    text, outline = page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert text == "Skip to content" and outline != "none"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "mqaflow"
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    check_axe(page, axe_script, f"queue with keyboard help at {width}")
    page.keyboard.press("?")
    page.keyboard.press("j")  # the most urgent: Globex, overdue
    assert "selected" in (page.locator("li.play").first.get_attribute("class") or "")
    page.keyboard.press("s")
    page.wait_for_selector("text=Started the play for Globex Energy")
    play = world["plays"]["Globex Energy"]
    play.refresh_from_db()
    assert play.status == "started" and play.message.startswith("Hi Jane")
    page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_play_page_start_bar_outcome_and_mention(
    browser, live_server, team_world, axe_script, viewport, django_capture_on_commit_callbacks
):
    width = viewport["width"]
    page = browser.new_page(viewport=viewport)
    log_in(page, live_server, team_world["adr"])
    page.wait_for_url(f"{live_server.url}/plays/")
    play = team_world["plays"]["Acme Robotics"]
    page.goto(f"{live_server.url}/plays/{play.pk}/")
    check_axe(page, axe_script, f"play page at {width}")
    no_sideways_scroll(page)
    shot(page, f"play-{width}")
    # Start is reachable without scrolling
    start = page.locator("#start-bar")
    box = start.bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"]
    # labels, never raw codes; contacts with email and a copy button
    body = page.locator("main").inner_text()
    assert "VP" in body and "Demo request" in body and "demo_request" not in body
    assert page.get_by_role("button", name="Copy the email address of Jane Doe").count() == 1
    assert "1,250,000.00 EUR" in body and "negotiation" in body

    page.get_by_label("Your first-touch email").fill("Hi Jane, does Tuesday work?")
    start.click()
    page.wait_for_selector("text=Started the play for Acme Robotics")
    page.get_by_role("button", name="Complete play").click()  # no outcome: the form asks
    assert page.get_by_label("How did it end?").evaluate("el => !el.validity.valid")
    page.get_by_label("How did it end?").select_option(label="Meeting booked")
    page.get_by_role("button", name="Complete play").click()
    page.wait_for_selector("text=Completed the play for Acme Robotics: Meeting booked")
    play.refresh_from_db()
    assert play.status == "completed" and play.outcome == "meeting_booked"

    page.get_by_label("Comment", exact=True).fill("@Maya booked for Tuesday, can you join?")
    page.get_by_role("button", name="Add comment").click()
    page.wait_for_selector("text=Comment added; Maya Chen will be told.")
    assert page.locator(".tl-comment", has_text="booked for Tuesday").count() == 1
    check_axe(page, axe_script, f"completed play with a comment at {width}")
    shot(page, f"play-completed-{width}")
    from plays.models import Notice

    notice = Notice.objects.get(play=play, kind="mention")
    assert notice.recipient == team_world["mgr"]
    page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_manager_board_bulk_reassign(browser, live_server, team_world, axe_script, viewport):
    width = viewport["width"]
    page = browser.new_page(viewport=viewport)
    log_in(page, live_server, team_world["mgr"])
    page.wait_for_url(f"{live_server.url}/team/")
    check_axe(page, axe_script, f"team board at {width}")
    no_sideways_scroll(page)  # tables fit at 1280 and become cards at 375
    shot(page, f"team-{width}")
    rows = page.locator("tr[data-play]")
    names = [rows.nth(i).locator("th").inner_text() for i in range(rows.count())]
    assert names == ["Globex Energy", "Acme Robotics", "Initech Labs"], names  # by urgency
    compliance = page.locator("td[data-label='SLA compliance']").first
    assert compliance.is_visible()
    box = compliance.bounding_box()
    assert box["x"] + box["width"] <= width

    page.get_by_label("ADR").select_option(label="Ana Souza")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**assignee=**")
    assert page.locator("tr[data-play]").count() == 2

    page.get_by_label("Tick Acme Robotics").check()
    page.get_by_label("Tick Globex Energy").check()
    page.get_by_label("Reassign to").select_option(label="Ben Carter")
    page.get_by_role("button", name="Apply to ticked plays").click()
    page.wait_for_selector("text=Reassigned to Ben Carter: Acme Robotics, Globex Energy.")
    check_axe(page, axe_script, f"team board after a bulk reassign at {width}")
    assert set(
        Play.objects.filter(account__name__in=["Acme Robotics", "Globex Energy"]).values_list(
            "assignee__name", flat=True
        )
    ) == {"Ben Carter"}
    page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_admin_lands_on_the_overview_and_reports_fit(
    browser, live_server, team_world, axe_script, viewport
):
    width = viewport["width"]
    page = browser.new_page(viewport=viewport)
    log_in(page, live_server, team_world["admin"])
    page.wait_for_url(f"{live_server.url}/overview/")
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert "3\nopen plays" in page.locator(".stats").inner_text()
    check_axe(page, axe_script, f"admin overview at {width}")
    no_sideways_scroll(page)
    shot(page, f"overview-{width}")
    page.get_by_role("link", name="Team").click()
    page.wait_for_url(f"{live_server.url}/team/")
    assert page.get_by_role("heading", name="Whole organisation").is_visible()
    check_axe(page, axe_script, f"whole-org board at {width}")
    page.goto(f"{live_server.url}/reports/?period=week")
    check_axe(page, axe_script, f"reports at {width}")
    no_sideways_scroll(page)
    assert page.locator("#mqa-chart-summary").inner_text().strip()
    assert page.get_by_role("link", name="Download CSV of sla compliance by industry").count()
    shot(page, f"reports-{width}")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{live_server.url}/accounts/password_reset/")
    check_axe(page, axe_script, f"password reset at {width}")
    page.get_by_label("Email").fill("root@seller.example")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/password_reset/done/")
    check_axe(page, axe_script, f"password reset sent at {width}")
    page.close()


def test_a_fresh_demo_shows_every_state_at_once(browser, live_server, axe_script):
    """What a newcomer sees after `make run`: the README's screenshots come from here."""
    from mqaflow.demo import ADMIN_EMAIL, DEFAULT_PASSWORD, demo_seed

    demo_seed()

    class Login:
        def __init__(self, email):
            self.email = email

    page = browser.new_page(viewport=DESKTOP)
    log_in(page, live_server, Login("adr1@mqaflow.example"), DEFAULT_PASSWORD)
    page.wait_for_url(f"{live_server.url}/plays/")
    slas = page.locator("li.play .sla").all_inner_texts()
    assert any(t.startswith("at risk") for t in slas), slas
    assert any(t.startswith("overdue") for t in slas), slas
    assert any(t.startswith("due in") for t in slas), slas
    assert page.locator(".badge.level", has_text="Escalated").count() >= 1
    shot(page, "demo-my-plays")
    readme_shot(page, "my-plays")
    page.set_viewport_size(PHONE)
    readme_shot(page, "my-plays-phone")
    page.set_viewport_size(DESKTOP)
    page.locator("li.play", has=page.locator(".badge.level")).first.locator("h3 a").click()
    page.wait_for_selector("text=Why it qualified")
    shot(page, "demo-play-detail")
    readme_shot(page, "play-detail")
    page.context.clear_cookies()
    log_in(page, live_server, Login("manager.east@mqaflow.example"), DEFAULT_PASSWORD)
    page.wait_for_url(f"{live_server.url}/team/")
    assert page.locator("tr[data-play] .sla-overdue").count() >= 1
    shot(page, "demo-team")
    readme_shot(page, "team")
    page.context.clear_cookies()
    log_in(page, live_server, Login(ADMIN_EMAIL), DEFAULT_PASSWORD)
    page.wait_for_url(f"{live_server.url}/overview/")
    check_axe(page, axe_script, "demo overview")
    shot(page, "demo-overview")
    readme_shot(page, "overview")
    page.close()


def test_tuning_lab_copy_lower_backtest_promote_and_the_first_plays_appear(
    browser, live_server, world, axe_script
):
    """The weekly meeting's loop: copy the live set, lower a Funnel 2 threshold in the draft,
    backtest it, read the chart and the gained accounts, promote; the ADR has new plays."""
    from mqaflow.models import RuleSet
    from tests.factories import UserFactory

    admin = UserFactory(username="tuner@seller.example", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    names = ["Northwind Freight", "Contoso Pharma"]
    for name in names:  # 40 minutes from two people: under Funnel 2's 60
        account = AccountFactory(name=name, funnel=2, employees=500, owner=world["adr"])
        for person in ("Ola Berg", "Tim Ruiz"):
            EventFactory(
                account=account,
                contact=ContactFactory(account=account, name=person),
                activity=activity("webinar_attended"),
                minutes=20,
                occurred_at=ten_days_ago,
            )
    accounts_evaluate(now=datetime.now(UTC))
    assert not Play.objects.filter(account__name__in=names).exists()

    page = browser.new_page(viewport=DESKTOP)
    log_in(page, live_server, admin)
    page.wait_for_url(f"{live_server.url}/overview/")
    live = RuleSet.objects.get(status="live")
    page.goto(f"{live_server.url}/admin/mqaflow/ruleset/{live.pk}/change/")
    page.get_by_label("Name of the draft").fill("Funnel 2 at 30 minutes")
    page.get_by_role("button", name="Copy into a new draft").click()
    page.wait_for_selector("text=is a draft copy of")
    draft = RuleSet.objects.get(name="Funnel 2 at 30 minutes")
    assert draft.status == "draft"

    page.get_by_role("link", name="MQA rules and clauses").click()
    page.get_by_role("link", name="Funnel 2 (large)").click()
    page.locator("#id_clauses-0-min_minutes").fill("30")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=nothing is re-evaluated until it is promoted")
    assert not Play.objects.filter(account__name__in=names).exists()

    page.goto(f"{live_server.url}/admin/mqaflow/ruleset/{draft.pk}/change/")
    shot(page, "rule-set-draft")
    page.get_by_role("link", name="Backtest…").click()
    page.get_by_role("button", name="Run the backtest").click()
    page.wait_for_selector(".total-draft", timeout=60_000)
    assert page.locator("figure.chart svg").count() == 1
    gained = page.locator("table.gained")
    for name in names:
        assert gained.locator("tr", has_text=name).count() == 1
    assert "Funnel 2" in gained.inner_text()
    assert int(page.locator(".total-draft").inner_text()) >= int(
        page.locator(".total-live").inner_text()
    ) + len(names)
    check_axe(page, axe_script, "backtest results")
    shot(page, "backtest-results")

    page.goto(f"{live_server.url}/admin/mqaflow/ruleset/{draft.pk}/change/")
    page.get_by_role("link", name="Promote…").click()
    assert page.locator(".promotion-preview .status-changes").inner_text() == "2"
    assert page.locator(".promotion-preview .plays").inner_text() == "2"
    shot(page, "promote-preview")
    page.get_by_role("button", name="Promote Funnel 2 at 30 minutes").click()
    page.wait_for_selector("text=is live")
    assert Play.objects.filter(account__name__in=names).count() == 2
    page.goto(f"{live_server.url}/tuning/")
    scorecard = page.locator("main").inner_text()
    assert "Funnel 2 at 30 minutes" in scorecard
    assert "Act Now: Demo requested (of “Live rules”)" in scorecard  # qualified before
    check_axe(page, axe_script, "tuning scorecard")
    no_sideways_scroll(page)
    shot(page, "tuning-scorecard")
    page.set_viewport_size(PHONE)
    page.reload()
    no_sideways_scroll(page)
    check_axe(page, axe_script, "tuning scorecard at 375")
    shot(page, "tuning-scorecard-375")
    page.close()

    adr_page = browser.new_page(viewport=DESKTOP)
    log_in(adr_page, live_server, world["adr"])
    adr_page.wait_for_url(f"{live_server.url}/plays/")
    for name in names:
        assert adr_page.locator("li.play", has_text=name).count() == 1
    adr_page.close()
