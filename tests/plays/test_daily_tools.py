"""Issue 16, the daily tools: outcome on complete, comments with @mentions, the ADR queue,
the team board with bulk actions and weekly load, the staff overview, reports by industry
and size band, and the start-up pieces of `make run` (mail folder, port, first jobs)."""

import os
import re
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from mqaflow.qualification.engine import accounts_evaluate
from plays import services
from plays.models import DismissReason, Notice, Play, PlayComment
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity, org_chart

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def make_play(owner, *, name, domain=None, funnel=1, hours_ago=0, industry=""):
    account = AccountFactory(
        name=name,
        domain=domain or f"{name.lower()}.example",
        funnel=funnel,
        owner=owner,
        industry=industry,
    )
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, name="Jane Doe", seniority="c_level"),
        activity=activity("demo_request"),
        occurred_at=at - timedelta(minutes=5),
    )
    accounts_evaluate(account_ids=[account.pk], now=at)
    return Play.objects.get(account=account)


@pytest.fixture
def world():
    roles = ("ceo", "mgr", "adr", "peer", "other_mgr", "other_adr")
    people = org_chart(
        *roles,
        ceo={"name": "Cara Top", "email": "cara.top@seller.example", "title": "CEO"},
        mgr={"name": "Maya Chen", "email": "maya.chen@seller.example"},
        adr={"name": "Ana Souza", "email": "ana.souza@seller.example"},
        peer={"name": "Ben Carter", "email": "ben.carter@seller.example"},
        other_mgr={"name": "Otto Other", "email": "otto@seller.example"},
        other_adr={"name": "Olga Out", "email": "olga@seller.example"},
    )
    ceo, mgr, adr, peer, other_mgr, outsider = (people[role] for role in roles)
    fresh = make_play(adr, name="Acme", domain="acme.com")
    risky = make_play(adr, name="Globex", hours_ago=20, industry="Energy")
    late = make_play(adr, name="Initech", hours_ago=30, funnel=2)
    Play.objects.filter(pk=late.pk).update(
        due_at=timezone.now() - timedelta(hours=2), remind_at=timezone.now() - timedelta(hours=8)
    )
    return locals()


def login(user_or_owner):
    client = Client()
    client.force_login(getattr(user_or_owner, "user", user_or_owner))
    return client


# --- outcome on complete -----------------------------------------------------------------


def test_complete_records_the_outcome_and_the_api_still_completes_without_one(world):
    adr = world["adr"]
    services.play_start(play=world["fresh"], by=adr.user)
    play = services.play_complete(play=world["fresh"], by=adr.user, outcome="meeting_booked")
    assert play.outcome == "meeting_booked"
    assert play.log_entries.get(kind="completed").note == "Outcome: Meeting booked."
    with pytest.raises(ValueError, match="Unknown outcome"):
        services.play_complete(play=world["risky"], by=adr.user, outcome="won")

    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(adr.user)
    services.play_start(play=world["risky"], by=adr.user)
    response = api.post(f"/api/v1/plays/{world['risky'].pk}/complete/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed" and response.json()["outcome"] == ""
    services.play_start(play=world["late"], by=adr.user)
    bad = api.post(f"/api/v1/plays/{world['late'].pk}/complete/", {"outcome": "won"})
    assert bad.status_code == 400 and "outcome" in bad.json()
    ok = api.post(f"/api/v1/plays/{world['late'].pk}/complete/", {"outcome": "not_a_fit"})
    assert ok.json()["outcome"] == "not_a_fit"


# --- comments and mentions -----------------------------------------------------------------


def test_a_comment_mentions_teammates_and_managers_and_each_gets_one_notice(
    world, django_capture_on_commit_callbacks
):
    play, adr = world["fresh"], world["adr"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.play_comment(
            play=play,
            by=adr.user,
            body="@Maya can you intro me? cc @ben.carter and @Olga and myself @Ana",
        )
    # Olga is outside the chain and team; the author is never told of their own mention.
    assert {o.name for o in comment.mentions.all()} == {"Maya Chen", "Ben Carter"}
    notices = Notice.objects.filter(play=play, kind="mention").order_by("step")
    assert [(n.step, n.recipient.name, n.status) for n in notices] == [
        (1, "Ben Carter", "sent"),  # numbered per play, in the order of the names
        (2, "Maya Chen", "sent"),
    ]
    subjects = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert subjects == [
        ("ben.carter@seller.example", "You were mentioned on the Acme play"),
        ("maya.chen@seller.example", "You were mentioned on the Acme play"),
    ]
    assert "Ana Souza: @Maya can you intro me?" in mail.outbox[0].body
    # A second comment numbers its mentions after the first ones.
    with django_capture_on_commit_callbacks(execute=True):
        services.play_comment(play=play, by=world["mgr"].user, body="@Ana Souza on it")
    assert Notice.objects.get(play=play, kind="mention", recipient=adr).step == 3


def test_mentions_do_not_disturb_the_escalation_ladder(world, django_capture_on_commit_callbacks):
    """A mention numbered 1 must not count as the play's reminder (step 1) being done."""
    from plays.escalation import escalations_sweep

    play = world["risky"]
    with django_capture_on_commit_callbacks(execute=True):
        services.play_comment(play=play, by=world["mgr"].user, body="@Ana please start")
    escalations_sweep(now=timezone.now())
    kinds = set(Notice.objects.filter(play=play).values_list("kind", "step"))
    assert ("reminder", 1) in kinds and ("mention", 1) in kinds
    # closing the play cancels reminders, never a comment already written
    Notice.objects.filter(play=play, kind="mention").update(status="pending")
    services.play_start(play=play, by=world["adr"].user)
    services.play_complete(play=play, by=world["adr"].user, outcome="no_response")
    assert Notice.objects.get(play=play, kind="mention").status == "pending"


def test_comment_view_checks_visibility_and_says_who_will_be_told(world):
    play = world["fresh"]
    url = f"/plays/{play.pk}/comment/"
    assert login(world["outsider"]).post(url, {"body": "hi"}).status_code == 404
    empty = login(world["adr"]).post(url, {"body": "  "}, follow=True)
    assert "Write something to comment." in empty.content.decode()
    page = login(world["adr"]).post(url, {"body": "@maya.chen thoughts?"}, follow=True)
    html = page.content.decode()
    assert "Comment added; Maya Chen will be told." in html
    assert "@maya.chen thoughts?" in html  # in the comments and the timeline
    assert PlayComment.objects.get(play=play).mentions.get() == world["mgr"]


# --- the ADR queue -------------------------------------------------------------------------


def test_queue_filters_counts_search_and_sorts(world):
    client = login(world["adr"])
    html = client.get("/plays/").content.decode()
    # urgency: the overdue play first, then the at-risk one, then the fresh one
    order = [html.index(name) for name in ("Initech", "Globex", "Acme")]
    assert order == sorted(order)
    assert "overdue by 2 h" in html and "at risk: due in 3 h" in html
    assert "Next: manager told in" in html  # the next step of a pending play
    overdue = client.get("/plays/?status=open&due=overdue").content.decode()
    assert "Initech" in overdue and "Globex" not in overdue and "Acme" not in overdue
    at_risk = client.get("/plays/?status=open&due=at_risk").content.decode()
    assert "Globex" in at_risk and "Initech" not in at_risk
    funnel2 = client.get("/plays/?status=open&funnel=2").content.decode()
    assert "Initech" in funnel2 and "Acme" not in funnel2
    assert 'Overdue <span class="count">1</span>' in html
    assert 'Funnel 2 <span class="count">1</span>' in html
    found = client.get("/plays/?q=acme.com").content.decode()
    assert "Acme" in found and "Globex" not in found
    by_account = client.get("/plays/?sort=account").content.decode()
    assert by_account.index("Acme") < by_account.index("Globex") < by_account.index("Initech")
    # withdrawn and the old tab links still work; nonsense falls back to the defaults
    assert client.get("/plays/?status=withdrawn").status_code == 200
    services.play_dismiss(
        play=world["risky"], by=world["mgr"].user, reason=DismissReason.objects.get(slug="bad-data")
    )
    closed = client.get("/plays/?tab=closed").content.decode()
    assert "Globex" in closed and "Acme" not in closed
    assert "Initech" in client.get("/plays/?status=bogus&funnel=x&sort=y").content.decode()


def test_queue_start_with_the_drafted_email_stays_on_the_queue(world):
    client = login(world["adr"])
    play = world["fresh"]
    response = client.post(f"/plays/{play.pk}/start/", {"draft": "1", "next": "queue"})
    assert response["Location"] == "/plays/"
    play.refresh_from_db()
    assert play.status == "started" and play.message.startswith("Hi Jane")


# --- the team board -----------------------------------------------------------------------


def test_board_sorts_across_the_team_and_filters(world):
    other = make_play(world["peer"], name="Umbrella", hours_ago=23)
    client = login(world["mgr"])
    html = client.get("/team/").content.decode()
    order = [html.index(n) for n in ("Initech", "Umbrella", "Globex", "Acme")]
    assert order == sorted(order), "by urgency across ADRs, not grouped by ADR"
    only_ben = client.get(f"/team/?assignee={world['peer'].pk}").content.decode()
    assert (
        f'data-play="{other.pk}"' in only_ben and f'data-play="{world["fresh"].pk}"' not in only_ben
    )
    late = client.get("/team/?due=overdue").content.decode()
    assert f'data-play="{world["late"].pk}"' in late and f'data-play="{other.pk}"' not in late
    funnel = client.get("/team/?funnel=2").content.decode()
    assert f'data-play="{world["late"].pk}"' in funnel and f'data-play="{other.pk}"' not in funnel


def test_bulk_reassign_and_dismiss_report_each_play(world, django_capture_on_commit_callbacks):
    client = login(world["mgr"])
    fresh, risky, late = world["fresh"], world["risky"], world["late"]
    services.play_dismiss(
        play=late, by=world["mgr"].user, reason=DismissReason.objects.get(slug="wrong-fit")
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/team/bulk/",
            {"plays": [fresh.pk, risky.pk], "action": "reassign", "owner": world["peer"].pk},
            follow=True,
        )
    html = page.content.decode()
    assert "Reassigned to Ben Carter: Acme, Globex." in html
    assert {p.assignee for p in Play.objects.filter(pk__in=[fresh.pk, risky.pk])} == {world["peer"]}
    assert sorted(m.subject for m in mail.outbox) == [
        "Play assigned to you: Acme",
        "Play assigned to you: Globex",
    ]
    reason = DismissReason.objects.get(slug="wrong-fit")
    page = client.post(
        "/team/bulk/",
        {"plays": [fresh.pk, late.pk], "action": "dismiss", "reason": reason.pk, "note": "SMB"},
        follow=True,
    )
    html = page.content.decode()
    assert "Dismissed (Wrong fit): Acme." in html
    assert "Not changed: Initech: This play was dismissed by" in html
    fresh.refresh_from_db()
    assert fresh.status == "dismissed" and fresh.dismissed_note == "SMB"
    missing = client.post("/team/bulk/", {"plays": [risky.pk], "action": "reassign"}, follow=True)
    assert "Choose whom to reassign the plays to." in missing.content.decode()
    outside = make_play(world["outsider"], name="Hooli")
    refused = client.post(
        "/team/bulk/",
        {"plays": [outside.pk], "action": "dismiss", "reason": reason.pk},
        follow=True,
    )
    assert "Select a valid choice" in refused.content.decode()
    outside.refresh_from_db()
    assert outside.status == "pending"
    assert login(world["adr"]).post("/team/bulk/", {}).status_code == 404


def test_board_shows_load_this_week_against_capacity_and_outcomes(world):
    world["adr"].weekly_play_capacity = 2
    world["adr"].save()
    for play, outcome in ((world["fresh"], "meeting_booked"), (world["risky"], "not_a_fit")):
        services.play_start(play=play, by=world["adr"].user)
        services.play_complete(play=play, by=world["adr"].user, outcome=outcome)
    html = login(world["mgr"]).get("/team/").content.decode()
    ana = html[html.index("Ana Souza <span") :]
    ana = ana[: ana.index("</tr>")]
    assert '<td class="num" data-label="Meetings · opps (30 d)">1 · 0</td>' in ana
    # Acme and Globex were received this week at the latest; Initech (30 h ago) maybe not on
    # a Monday, so count what the week holds.
    from plays.reports import week_start

    since = week_start(now=timezone.now())
    received = Play.objects.filter(assignee=world["adr"], created_at__gte=since).count()
    assert f"{received} / 2" in html
    assert ("over capacity" in html) == (received > 2)


# --- staff landing and the whole org ----------------------------------------------------------


def test_staff_without_plays_land_on_the_overview_and_see_the_whole_org(world):
    from mqaflow.heartbeat import heartbeat
    from tests.factories import UserFactory

    admin = UserFactory(username="admin@seller.example", is_staff=True, is_superuser=True)
    with heartbeat("escalations_sweep"):
        pass
    client = login(admin)
    assert client.get("/")["Location"] == "/overview/"
    html = client.get("/overview/").content.decode()
    assert "3</b>open plays" in html and "1</b>at risk" in html and "1</b>breached" in html
    assert "0</b>open and escalated" in html
    from plays.escalation import escalations_sweep

    # 19 h on, Globex (24 h ladder) and Initech (48 h) have been escalated, Acme not yet
    escalations_sweep(now=timezone.now() + timedelta(hours=19))
    html = client.get("/overview/").content.decode()
    assert "3</b>open plays" in html and "2</b>open and escalated" in html
    assert "Last escalation sweep" in html and "not run yet" in html  # recompute never ran
    assert "/admin/plays/slapolicy/" in html and "/reports/" in html
    team = client.get("/team/")
    assert team.status_code == 200
    assert "Whole organisation" in team.content.decode()
    assert "Ana Souza" in team.content.decode() and "Olga Out" in team.content.decode()
    assert login(world["adr"]).get("/overview/").status_code == 404
    assert login(world["adr"]).get("/")["Location"] == "/plays/"


# --- play page ------------------------------------------------------------------------------


def test_play_page_labels_contacts_and_merged_timeline(world):
    play = world["fresh"]
    services.play_comment(play=play, by=world["mgr"].user, body="Big one")
    html = login(world["adr"]).get(f"/plays/{play.pk}/").content.decode()
    assert "C-level" in html and "c_level" not in html
    assert "Demo request" in html
    assert 'data-copy="' in html and "mailto:" in html  # email and a copy button
    assert 'id="start-bar"' in html and 'form="start-form"' in html  # sticky action bar
    for kind in ("Engagement", "Log", "Notice", "Comment"):
        assert f'<span class="tl-kind">{kind}</span>' in html, kind
    assert 'name="outcome"' not in html  # only a started play can be completed
    services.play_start(play=play, by=world["adr"].user)
    started = login(world["adr"]).get(f"/plays/{play.pk}/").content.decode()
    assert 'name="outcome"' in started and "Opportunity created" in started


# --- reports ---------------------------------------------------------------------------------


def test_reports_by_industry_and_size_band_each_with_its_csv(world):
    services.play_start(play=world["risky"], by=world["adr"].user)
    client = login(world["adr"])
    html = client.get("/reports/?period=week").content.decode()
    for title in (
        "SLA compliance by funnel",
        "SLA compliance by industry",
        "SLA compliance by size band",
        "SLA compliance by team",
        "Completed plays by outcome",
    ):
        assert title in html, title
    assert "Energy" in html
    assert 'id="mqa-chart-summary"' in html and "new MQAs in" in html  # text alternative
    csv = client.get("/reports/sla-industry.csv?period=week").content.decode().splitlines()
    assert csv[0] == "Industry,Plays,On time,Median start,90th pct"
    assert any(line.startswith("Energy,1,1.0,") for line in csv)
    assert client.get("/reports/nope.csv?period=week").status_code == 404
    assert client.get("/reports/sla-size.csv?period=year").status_code == 400


# --- make run's start-up pieces ------------------------------------------------------------------


def test_email_file_path_is_the_folder_the_url_names():
    from config.settings.email import email_file_path

    base = Path("/srv/app")
    assert email_file_path("filemail:///srv/app/var/mail", base) == "/srv/app/var/mail"
    assert email_file_path("filemail://var/mail", base) == "/srv/app/var/mail"


def test_beat_start_runs_the_jobs_so_health_is_green_at_once(client, monkeypatch):
    from celery.signals import beat_init

    from config.celery import STARTUP_TASKS, app, run_startup_tasks

    assert client.get("/health/").status_code == 503  # nothing has run yet
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, *a, **k: sent.append(name))
    beat_init.send(sender=None)  # what celery beat does as it starts
    assert sent == list(STARTUP_TASKS)
    assert run_startup_tasks(sender=None) and sent == list(STARTUP_TASKS) * 2
    app.loader.import_default_modules()  # the worker's task autodiscovery
    for name in sent[: len(STARTUP_TASKS)]:  # what the worker then runs
        app.tasks[name].apply().get()
    response = client.get("/health/")
    assert response.status_code == 200, response.json()


def _fake_bin(tmp_path: Path) -> Path:
    """A stand-in python and honcho that print the environment `make run` gives them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "honcho"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} SITE_URL=$SITE_URL PORT=$PORT $*"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    stamp = tmp_path / "stamp"
    stamp.touch()
    return bin_dir


def test_make_run_passes_the_port_to_the_emails_links_and_seed_demo(tmp_path):
    bin_dir = _fake_bin(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT", "MAKEFLAGS")}
    result = subprocess.run(
        [
            "make",
            "-s",
            "run",
            "PORT=8123",
            f"BIN={bin_dir}",
            f"PY={bin_dir / 'python'}",
            f"STAMP={tmp_path / 'stamp'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"python SITE_URL=http://127.0.0.1:8123 PORT=\S* manage.py seed_demo", out)
    assert "honcho SITE_URL=http://127.0.0.1:8123 PORT=8123 start -f Procfile.dev" in out


def test_seed_demo_prints_the_site_url_and_each_login_once(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.SITE_URL = "http://127.0.0.1:8123"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert "Open http://127.0.0.1:8123/ and log in as:" in text
    for email in ("admin@mqaflow.example", "manager.east@mqaflow.example", "adr1@mqaflow.example"):
        assert text.count(email) == 1, email


def test_admin_shows_a_plays_comments_and_filters_by_outcome(world):
    from tests.factories import UserFactory

    admin = UserFactory(username="boss@seller.example", is_staff=True, is_superuser=True)
    services.play_comment(play=world["fresh"], by=world["mgr"].user, body="Call them Monday")
    client = login(admin)
    page = client.get(f"/admin/plays/play/{world['fresh'].pk}/change/")
    assert page.status_code == 200 and "Call them Monday" in page.content.decode()
    assert client.get("/admin/plays/play/?outcome=meeting_booked").status_code == 200


def test_a_mention_reaches_slack_once_even_on_a_started_play(
    world, django_capture_on_commit_callbacks
):
    """Mentions go through the recipient's channels like other notices, at once (no digest
    wait), and a play that moved on does not silence a comment."""
    import json

    from plays.channels import chat_notices_sweep
    from plays.escalation import escalations_sweep
    from plays.models import ChatNotice, NotificationPreference
    from tests.support.webhook_server import WebhookServer

    play = world["fresh"]
    services.play_start(play=play, by=world["adr"].user)
    with WebhookServer() as slack:
        NotificationPreference.objects.create(
            owner=world["mgr"], slack_webhook_url=slack.url, delivery="hourly"
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.play_comment(play=play, by=world["adr"].user, body="@Maya they said yes")
        with django_capture_on_commit_callbacks(execute=True):
            escalations_sweep()
            chat_notices_sweep()
        with django_capture_on_commit_callbacks(execute=True):
            chat_notices_sweep()
    notice = Notice.objects.get(play=play, kind="mention")
    assert notice.status == "sent"
    assert list(ChatNotice.objects.filter(notice=notice).values_list("status", flat=True)) == [
        "sent"
    ]
    [request] = slack.requests
    body = json.loads(request["body"])
    assert body["text"] == "You were mentioned: Acme"
    assert "Ana Souza: @Maya they said yes" in json.dumps(body)
