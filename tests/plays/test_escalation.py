"""Plays from qualification to the CEO, with time travel and a real sweep."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from mqaflow.models import MQATransition
from mqaflow.qualification.engine import accounts_evaluate
from plays.escalation import escalations_sweep
from plays.models import Notice, OwnerAbsence, Play, PlayStatus, SLAPolicy
from plays.services import play_start
from tests.factories import AccountFactory, ContactFactory, EventFactory, OwnerFactory, activity

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def qualify(account, at=T0):
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, seniority="vp"),
        activity=activity("demo_request"),
        occurred_at=at - timedelta(hours=1),
    )
    accounts_evaluate(account_ids=[account.pk], now=at)
    return Play.objects.get(account=account)


def sweep_at(moment):
    mail.outbox.clear()
    with time_machine.travel(moment, tick=False):
        escalations_sweep()
    return [(m.to[0], m.subject) for m in mail.outbox]


def test_funnel_1_ladder_end_to_end(org, django_capture_on_commit_callbacks):
    account = AccountFactory(name="Acme", funnel=1, owner=org["adr"])
    with django_capture_on_commit_callbacks(execute=True):
        play = qualify(account)
    assert play.assignee == org["adr"]
    assert play.due_at == T0 + timedelta(hours=24)
    assert [(m.to[0], m.subject) for m in mail.outbox] == [
        ("ana@s.example", "New play: Acme is Marketing Qualified")
    ]
    assert "Act Now" in mail.outbox[0].body
    assert "http://testserver/plays/" in mail.outbox[0].alternatives[0][0]

    assert sweep_at(T0 + timedelta(hours=17, minutes=59)) == []
    sent = sweep_at(T0 + timedelta(hours=18))  # 75 % of 24 h
    assert sent == [("ana@s.example", "Reminder: start the Acme play — due in 6 h")]
    assert sweep_at(T0 + timedelta(hours=23, minutes=59)) == []

    sent = sweep_at(T0 + timedelta(hours=24, minutes=1))
    assert len(sent) == 1 and sent[0][0] == "mgr@s.example"
    body = mail.outbox[0].body
    assert "Ana ADR (your report) has not started the play for Acme" in body
    assert "1 min past its SLA" in body
    assert sweep_at(T0 + timedelta(hours=24, minutes=2)) == []  # nothing new on a 2nd sweep

    sent = sweep_at(T0 + timedelta(hours=48))
    assert [to for to, _ in sent] == ["vp@s.example"]
    assert "Ana ADR (your report's report)" in mail.outbox[0].body

    sent = sweep_at(T0 + timedelta(hours=72))
    assert [to for to, _ in sent] == ["ceo@s.example"]
    assert "3 levels below you" in mail.outbox[0].body
    assert sweep_at(T0 + timedelta(days=10)) == []
    steps = list(play.notices.order_by("step").values_list("step", "status", "recipient_email"))
    assert steps == [
        (0, "sent", "ana@s.example"),
        (1, "sent", "ana@s.example"),
        (2, "sent", "mgr@s.example"),
        (3, "sent", "vp@s.example"),
        (4, "sent", "ceo@s.example"),
    ]


def test_starting_the_play_stops_the_ladder(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=25))] == [
        "ana@s.example",
        "mgr@s.example",
    ]  # new-play notice (its on_commit was not run here) and reminder in one email; manager
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        play_start(play=play, by=org["adr"].user, message="Hi!")
    assert sweep_at(T0 + timedelta(hours=80)) == []
    play.refresh_from_db()
    assert play.status == PlayStatus.STARTED and play.message == "Hi!"
    assert play.next_action_at is None


def test_funnel_2_ladder_is_48_then_72_hours(org):
    play = qualify(AccountFactory(name="Beta", funnel=2, owner=org["adr"]))
    assert play.due_at == T0 + timedelta(hours=48)
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=1))] == ["ana@s.example"]  # notice
    assert sweep_at(T0 + timedelta(hours=35, minutes=59)) == []
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=36))] == ["ana@s.example"]
    assert sweep_at(T0 + timedelta(hours=47, minutes=59)) == []
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=48))] == ["mgr@s.example"]
    assert sweep_at(T0 + timedelta(hours=71)) == []
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=72))] == ["ceo@s.example"]


def test_catch_up_after_a_day_without_sweeps_sends_due_steps_in_order_once(org):
    play = qualify(AccountFactory(name="Late Co", funnel=1, owner=org["adr"]))
    sent = sweep_at(T0 + timedelta(hours=73))
    assert [to for to, _ in sent] == [
        "ana@s.example",  # the new-play notice and the reminder, in one digest
        "mgr@s.example",
        "vp@s.example",
        "ceo@s.example",
    ]
    assert "Overdue by 2 days 1 h" in mail.outbox[0].body
    assert "(2 days 1 h late)" in sent[-1][1]
    assert sweep_at(T0 + timedelta(hours=74)) == []
    assert play.notices.count() == 5


def test_no_second_play_while_one_is_open(org):
    account = AccountFactory(funnel=1, owner=org["adr"])
    play = qualify(account)
    play_start(play=play, by=org["adr"].user, now=T0 + timedelta(hours=1))
    # ages out; play started
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=40))
    qualify(account, at=T0 + timedelta(days=41))  # qualifies again
    assert MQATransition.objects.filter(account=account, to_status="mqa").count() == 2
    assert Play.objects.filter(account=account).count() == 1


def test_unowned_and_inactive_owner_accounts_go_to_the_fallback(org):
    fallback = OwnerFactory(name="Fallback", manager=org["mgr"])
    SLAPolicy.objects.filter(funnel=1).update(fallback_owner=fallback)
    unowned = qualify(AccountFactory(funnel=1, owner=None))
    gone = OwnerFactory(is_active=False)
    inactive = qualify(AccountFactory(funnel=1, owner=gone))
    assert unowned.assignee == fallback and inactive.assignee == fallback
    assert "no owner" in unowned.log_entries.get(kind="created").note
    assert "inactive" in inactive.log_entries.get(kind="created").note


def test_away_owner_goes_to_delegate_and_away_manager_is_skipped(org):
    buddy = OwnerFactory(name="Bo Buddy", manager=org["mgr"])
    OwnerAbsence.objects.create(
        owner=org["adr"],
        starts_at=T0 - timedelta(days=1),
        ends_at=T0 + timedelta(days=7),
        delegate=buddy,
    )
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    assert play.assignee == buddy
    OwnerAbsence.objects.create(owner=org["mgr"], starts_at=T0, ends_at=T0 + timedelta(days=7))
    sent = sweep_at(T0 + timedelta(hours=24))
    assert sent[-1][0] == "vp@s.example"
    step = play.notices.get(step=2)
    assert "Mia Manager is away with no delegate" in step.note
    # the 48 h step also resolves to the VP, who was already alerted: skipped, not resent
    assert sweep_at(T0 + timedelta(hours=48)) == []
    skipped = play.notices.get(step=3)
    assert skipped.status == "skipped" and "already alerted" in skipped.note


def test_short_chain_gives_the_highest_manager(org):
    boss = OwnerFactory(name="Solo Boss")
    adr = OwnerFactory(name="Solo ADR", manager=boss)
    play = qualify(AccountFactory(funnel=1, owner=adr))
    sweep_at(T0 + timedelta(hours=72))
    rows = {notice.step: notice for notice in play.notices.all()}
    assert rows[2].recipient == boss and rows[2].status == "sent"
    assert rows[3].status == "skipped" and rows[4].status == "skipped"
    assert "already alerted" in rows[3].note


def test_failing_mail_backend_leaves_it_unsent_and_a_later_sweep_sends(org, settings):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    settings.EMAIL_BACKEND = "tests.support.mail_backends.RefusingBackend"
    sweep_at(T0 + timedelta(hours=1))
    notice = play.notices.get(step=0)
    assert notice.status == "pending" and notice.sent_at is None
    assert "ConnectionRefusedError" in notice.last_error
    assert notice.next_attempt_at == T0 + timedelta(hours=1, minutes=1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep_at(T0 + timedelta(hours=1, minutes=2)) == [
        ("ana@s.example", mail.outbox[0].subject)
    ]
    notice.refresh_from_db()
    assert notice.status == "sent" and notice.attempts == 2


def test_smtp_5xx_is_marked_failed(org, settings):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    settings.EMAIL_BACKEND = "tests.support.mail_backends.Rejecting550Backend"
    sweep_at(T0 + timedelta(hours=1))
    notice = play.notices.get(step=0)
    assert notice.status == "failed" and "SMTP 550" in notice.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep_at(T0 + timedelta(hours=2)) == []


def test_crash_mid_send_is_resent_once_then_marked_unknown(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    notice = play.notices.get(step=0)
    # a worker claimed it and died after the SMTP server may have accepted it
    Notice.objects.filter(pk=notice.pk).update(status="sending", claimed_at=T0, attempts=1)
    assert sweep_at(T0 + timedelta(minutes=5)) == []  # not stale yet
    assert len(sweep_at(T0 + timedelta(minutes=11))) == 1  # resent once
    notice.refresh_from_db()
    assert notice.status == "sent" and notice.crash_resends == 1
    # if the resend dies too, it is never sent a third time
    Notice.objects.filter(pk=notice.pk).update(status="sending", claimed_at=T0)
    assert sweep_at(T0 + timedelta(hours=2)) == []
    notice.refresh_from_db()
    assert notice.status == "unknown"


def test_dry_run_plans_nothing(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        result = escalations_sweep(dry_run=True)
    assert [notice.step for notice in result.planned] == [1, 2]
    assert play.notices.count() == 1


def test_escalate_plays_command_dry_run_and_real_run(org):
    from io import StringIO

    from django.core.management import call_command

    play = qualify(AccountFactory(name="Cmd Co", funnel=1, owner=org["adr"]))
    out = StringIO()
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        call_command("escalate_plays", "--dry-run", stdout=out)
    assert "2 step(s) due; nothing sent" in out.getvalue()
    assert play.notices.count() == 1
    out = StringIO()
    mail.outbox.clear()
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        call_command("escalate_plays", stdout=out)
    assert "2 step(s) planned; 3 sent" in out.getvalue()  # + the new-play notice
    assert len(mail.outbox) == 2  # the ADR's two notices in one digest; the manager's


def test_policy_edits_do_not_move_waiting_plays_until_replanned(org):
    from plays.services import plays_replan

    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    policy = SLAPolicy.objects.get(funnel=1)
    versions = policy.history.count()
    policy.response_hours = 8
    policy.save()
    play.refresh_from_db()
    assert play.due_at == T0 + timedelta(hours=24) and play.policy_version == 1
    assert policy.version == 2 and policy.history.count() == versions + 1
    assert plays_replan(policy=policy, now=T0 + timedelta(hours=1)) == 1
    play.refresh_from_db()
    assert play.due_at == T0 + timedelta(hours=8) and play.policy_version == 2
    assert play.log_entries.filter(kind="replanned").exists()
