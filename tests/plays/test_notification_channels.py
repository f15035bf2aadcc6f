"""Notices where people read them: Slack and Teams messages posted to a real local server,
each once per (play, step, channel) with email's retry rules; quiet hours in the owner's
time zone, urgent steps, hourly and daily digests, with time travel; the Notifications
page."""

import json
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client

from mqaflow.qualification.engine import accounts_evaluate
from plays.channels import chat_notices_sweep, notice_time
from plays.escalation import escalations_sweep
from plays.models import (
    ChatNotice,
    EscalationStep,
    Notice,
    NotificationPreference,
    Play,
    SLAPolicy,
)
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; Paris is UTC+1 in March


def qualify(owner, at=T0, name="Acme"):
    account = AccountFactory(name=name, funnel=1, owner=owner)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, seniority="vp"),
        activity=activity("demo_request"),
        occurred_at=at - timedelta(hours=1),
    )
    with time_machine.travel(at, tick=False):
        accounts_evaluate(account_ids=[account.pk], now=at)
    return Play.objects.get(account=account)


def prefs(owner, **fields):
    return NotificationPreference.objects.create(owner=owner, **fields)


def sweep(moment, capture):
    mail.outbox.clear()
    with time_machine.travel(moment, tick=False), capture(execute=True):
        escalations_sweep()
        chat_notices_sweep()
    return [m.to[0] for m in mail.outbox]


def test_slack_and_teams_carry_the_emails_facts(org, django_capture_on_commit_callbacks):
    with WebhookServer() as slack, WebhookServer() as teams:
        prefs(org["mgr"], slack_webhook_url=slack.url, teams_webhook_url=teams.url)
        play = qualify(org["adr"])
        sweep(T0 + timedelta(hours=18), django_capture_on_commit_callbacks)  # reminder
        sent = sweep(T0 + timedelta(hours=27), django_capture_on_commit_callbacks)
        assert sent == ["mgr@s.example"]  # email still goes (email stays on)
        sweep(T0 + timedelta(hours=27, minutes=5), django_capture_on_commit_callbacks)
    [slack_request] = slack.requests
    [teams_request] = teams.requests
    block_kit = json.loads(slack_request["body"])
    title = "Escalation (level 1): Acme"  # compatibility: the title starts as it always did
    assert block_kit["text"] == title
    fields = {
        f["text"].split("\n")[0].strip("*"): f["text"].split("\n", 1)[1]
        for block in block_kit["blocks"]
        if block["type"] == "section"
        for f in block.get("fields", [])
    }
    assert fields["Account"].startswith("Acme (")
    assert fields["Assignee"] == "Ana ADR"
    assert fields["Overdue by"] == "3 h"
    assert fields["Why it qualified"] == play.transition.explanation != ""
    [button] = next(b for b in block_kit["blocks"] if b["type"] == "actions")["elements"]
    assert button["url"].endswith(f"/plays/{play.pk}/")
    card = json.loads(teams_request["body"])
    assert card["@type"] == "MessageCard" and card["title"] == title
    facts = {f["name"]: f["value"] for f in card["sections"][0]["facts"]}
    assert facts["Overdue by"] == "3 h" and facts["Assignee"] == "Ana ADR"
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith(f"/plays/{play.pk}/")
    notice = Notice.objects.get(play=play, recipient=org["mgr"], kind="escalation")
    assert sorted(notice.chat_notices.values_list("channel", "status")) == [
        ("slack", "sent"),
        ("teams", "sent"),
    ]


def test_the_vp_hears_who_was_told_before(org, django_capture_on_commit_callbacks):
    with WebhookServer() as slack:
        prefs(org["vp"], slack_webhook_url=slack.url, email=False)
        qualify(org["adr"])
        sweep(T0 + timedelta(hours=25), django_capture_on_commit_callbacks)
        sent = sweep(T0 + timedelta(hours=48), django_capture_on_commit_callbacks)
    assert "vp@s.example" not in sent  # email off: Slack only
    body = json.loads(slack.requests[0]["body"])
    assert "*Told before*\nMia Manager" in json.dumps(body).replace("\\n", "\n")
    assert Notice.objects.get(recipient=org["vp"]).status == "sent"


def test_a_chat_notice_is_sent_once_and_retried_like_email(org, django_capture_on_commit_callbacks):
    with WebhookServer([500, 200]) as slack:
        prefs(org["adr"], slack_webhook_url=slack.url)
        now = datetime.now(UTC)
        with django_capture_on_commit_callbacks(execute=True):
            play = qualify(org["adr"], at=now)  # the new-play notice: email, then Slack
        notice = ChatNotice.objects.get()
        assert notice.status == "pending" and notice.response_code == 500
        assert sweep(now + timedelta(seconds=30), django_capture_on_commit_callbacks) == []
        assert len(slack.requests) == 1  # backoff: not before 1 minute
        sweep(now + timedelta(minutes=2), django_capture_on_commit_callbacks)
        for minutes in (3, 10, 60):  # more sweeps, more beats: nothing new
            sweep(now + timedelta(minutes=minutes), django_capture_on_commit_callbacks)
    notice.refresh_from_db()
    assert notice.status == "sent" and notice.attempts == 2
    assert len(slack.requests) == 2
    assert ChatNotice.objects.filter(notice__play=play).count() == 1


def test_a_refused_chat_message_is_not_retried(org, django_capture_on_commit_callbacks):
    with WebhookServer([404]) as slack:
        prefs(org["adr"], slack_webhook_url=slack.url)
        now = datetime.now(UTC)
        with django_capture_on_commit_callbacks(execute=True):
            qualify(org["adr"], at=now)
        sweep(now + timedelta(hours=2), django_capture_on_commit_callbacks)
    assert ChatNotice.objects.get().status == "failed"
    assert len(slack.requests) == 1


def test_quiet_hours_hold_notices_in_the_owners_time_zone(org, django_capture_on_commit_callbacks):
    # 21:00 in Paris (20:00 UTC): Ana's quiet hours run 20:00–07:30 Paris time.
    prefs(org["adr"], time_zone="Europe/Paris", quiet_start=time(20), quiet_end=time(7, 30))
    evening = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    with (
        time_machine.travel(evening, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        play = qualify(org["adr"], at=evening)  # and the immediate delivery after commit
    assert mail.outbox == []
    notice = Notice.objects.get(play=play, kind="assigned")
    assert notice.next_attempt_at == datetime(2026, 3, 3, 6, 30, tzinfo=UTC)  # 07:30 Paris
    assert sweep(datetime(2026, 3, 3, 6, 29, tzinfo=UTC), django_capture_on_commit_callbacks) == []
    sent = sweep(datetime(2026, 3, 3, 6, 31, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert sent == ["ana@s.example"]


def test_an_urgent_last_step_ignores_quiet_hours(org, django_capture_on_commit_callbacks):
    policy = SLAPolicy.objects.get(funnel=1)
    last = policy.steps.order_by("-after_hours").first()
    EscalationStep.objects.filter(pk=last.pk).update(urgent=True)
    working_hours_off = {"time_zone": "UTC", "quiet_start": time(8), "quiet_end": time(20)}
    prefs(org["vp"], **working_hours_off)
    prefs(org["ceo"], **working_hours_off)
    qualify(org["adr"])  # 09:00 UTC: every step falls due at 09:00, inside the quiet hours
    sweep(T0 + timedelta(hours=25), django_capture_on_commit_callbacks)
    assert "vp@s.example" not in sweep(T0 + timedelta(hours=48), django_capture_on_commit_callbacks)
    assert "vp@s.example" not in sweep(
        T0 + timedelta(hours=58, minutes=59), django_capture_on_commit_callbacks
    )
    sent = sweep(T0 + timedelta(hours=59), django_capture_on_commit_callbacks)  # 20:00
    assert sent == ["vp@s.example"]
    sent = sweep(T0 + timedelta(hours=72), django_capture_on_commit_callbacks)
    assert sent == ["ceo@s.example"]  # urgent: at once, quiet hours or not


def test_an_hourly_digest_sends_one_email_for_every_notice_due(
    org, django_capture_on_commit_callbacks
):
    prefs(org["mgr"], delivery="hourly")
    first = qualify(org["adr"], at=T0 + timedelta(minutes=10), name="Acme")
    second = qualify(org["adr"], at=T0 + timedelta(minutes=40), name="Globex")
    for minutes in (10, 40, 59):  # both escalations are due in this hour
        moment = T0 + timedelta(hours=24, minutes=minutes)
        assert "mgr@s.example" not in sweep(moment, django_capture_on_commit_callbacks)
    sent = sweep(T0 + timedelta(hours=25), django_capture_on_commit_callbacks)
    assert sent == ["mgr@s.example"]
    [email] = mail.outbox
    assert "Acme" in email.body and "Globex" in email.body
    rows = Notice.objects.filter(play__in=[first, second], recipient=org["mgr"])
    assert {r.status for r in rows} == {"sent"}
    assert len({r.sent_at for r in rows}) == 1  # one send record for the whole digest


def test_a_daily_digest_waits_for_the_local_hour_but_new_plays_do_not(
    org, django_capture_on_commit_callbacks
):
    prefs(org["adr"], delivery="daily", digest_hour=8, time_zone="America/New_York")
    with django_capture_on_commit_callbacks(execute=True):
        play = qualify(org["adr"])
    assert [m.to[0] for m in mail.outbox] == ["ana@s.example"]  # new play: immediate
    # The reminder falls due at 18 h (03:00 UTC next day, 22:00 in New York) and waits
    # for 08:00 New York (13:00 UTC).
    assert "ana@s.example" not in sweep(
        T0 + timedelta(hours=18), django_capture_on_commit_callbacks
    )
    reminder = Notice.objects.get(play=play, kind="reminder")
    assert reminder.next_attempt_at == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert "ana@s.example" in sweep(reminder.next_attempt_at, django_capture_on_commit_callbacks)


def test_notice_time_across_midnight_and_dst():
    pref = NotificationPreference(
        time_zone="Europe/Paris", quiet_start=time(22), quiet_end=time(7), delivery="daily"
    )
    # The night Paris moves to summer time (29 March 2026): 07:00 local is 05:00 UTC.
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 Paris, quiet
    assert notice_time(pref, kind="assigned", at=late) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert notice_time(pref, kind="assigned", at=late, urgent=True) == late
    # a reminder waits for 09:00 Paris (summer time: 07:00 UTC)
    assert notice_time(pref, kind="reminder", at=late) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_owners_set_their_own_preferences_and_admins_see_them(org):
    client = Client()
    client.force_login(org["adr"].user)
    assert client.get("/notifications/").status_code == 200
    response = client.post(
        "/notifications/",
        {
            "slack_webhook_url": "https://hooks.slack.com/services/T/B/X",
            "delivery": "hourly",
            "digest_hour": 9,
            "time_zone": "Europe/Paris",
            "quiet_start": "20:00",
            "quiet_end": "07:30",
        },
    )
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(owner=org["adr"])
    assert pref.email is False and pref.delivery == "hourly"
    assert pref.quiet_end == time(7, 30)
    response = client.post("/notifications/", {"digest_hour": 9, "delivery": "immediate"})
    assert response.status_code == 200 and "at least one channel" in response.content.decode()
    response = client.post(
        "/notifications/",
        {"email": "on", "digest_hour": 9, "delivery": "immediate", "time_zone": "Mars/Olympus"},
    )
    assert "not a time zone" in response.content.decode()
    admin = Client()
    from tests.factories import UserFactory

    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = admin.get("/admin/plays/notificationpreference/")
    assert page.status_code == 200 and "Ana ADR" in page.content.decode()


def test_a_send_cut_off_by_a_dead_worker_is_resent_once_then_reported(
    org, django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = [("Admins", "ops@s.example")]
    with WebhookServer() as slack:
        prefs(org["adr"], slack_webhook_url=slack.url)
        qualify(org["adr"], at=datetime.now(UTC))  # no commit callbacks: nothing sent yet
        with django_capture_on_commit_callbacks(execute=True):
            escalations_sweep()  # the new-play email is sent; its Slack row is recorded
        notice = ChatNotice.objects.get()
        # A worker claimed it and died before recording the answer.
        ChatNotice.objects.filter(pk=notice.pk).update(
            status="sending", claimed_at=datetime.now(UTC) - timedelta(hours=1)
        )
        chat_notices_sweep()
        notice.refresh_from_db()
        assert notice.status == "sent" and notice.crash_resends == 1
        ChatNotice.objects.filter(pk=notice.pk).update(
            status="sending", claimed_at=datetime.now(UTC) - timedelta(hours=1)
        )
        chat_notices_sweep()
    notice.refresh_from_db()
    assert notice.status == "unknown"
    assert len(slack.requests) == 2  # the send, the one resend; never a third
    assert any("chat notice delivery unknown" in m.subject for m in mail.outbox)
