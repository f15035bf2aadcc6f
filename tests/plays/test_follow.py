"""Plays follow the account and the org: every notice is one a person would agree was
deserved (PostgreSQL, time travel, the real sweep)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from rest_framework.test import APIClient

from mqaflow.models import ActNowRule, MQATransition
from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.tokens import token_issue
from plays.assignment import absences_apply, play_reassign
from plays.escalation import escalations_sweep
from plays.models import DismissReason, OwnerAbsence, Play, PlayStatus, SLAPolicy
from plays.notifications import NOTICE_HEADER
from plays.reports import sla_compliance_by
from plays.services import PlayConflict, PlayPermissionError, play_dismiss, play_reopen
from tests.factories import AccountFactory, ContactFactory, EventFactory, OwnerFactory, activity

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def engage(account, at, kind="web_visit", seniority="vp"):
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, seniority=seniority),
        activity=activity(kind),
        occurred_at=at - timedelta(hours=1),
    )


def qualify(account, at=T0):
    engage(account, at, "demo_request")
    accounts_evaluate(account_ids=[account.pk], now=at, cause="ingest")
    return Play.objects.filter(account=account).order_by("-pk").first()


def sweep_at(moment):
    mail.outbox.clear()
    with time_machine.travel(moment, tick=False):
        escalations_sweep()
    return [(m.to[0], m.subject) for m in mail.outbox]


def api(user=None, token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    elif user is not None:
        client.force_authenticate(user)
    return client


# --- the play follows the account ----------------------------------------------------------


def test_aged_out_play_is_withdrawn_and_never_escalated(org):
    ActNowRule.objects.update(window_days=1)
    account = AccountFactory(name="Acme", funnel=1, owner=org["adr"])
    play = qualify(account)
    assert [to for to, _ in sweep_at(T0 + timedelta(minutes=1))] == ["ana@s.example"]
    assert [to for to, _ in sweep_at(T0 + timedelta(hours=18))] == ["ana@s.example"]
    # the demo request ages out of its window before anybody started the play
    accounts_evaluate(
        account_ids=[account.pk], now=T0 + timedelta(hours=23, minutes=30), cause="schedule"
    )
    play.refresh_from_db()
    assert play.status == PlayStatus.WITHDRAWN
    assert play.withdrawn_reason.startswith("Account no longer qualifies: ")
    entry = play.log_entries.get(kind="withdrawn")
    assert entry.note == play.withdrawn_reason
    assert sweep_at(T0 + timedelta(days=5)) == []  # nobody is told about it again
    assert not play.notices.filter(kind="escalation").exists()
    transition = MQATransition.objects.filter(account=account).first()
    assert transition.to_status == "not_qualified" and transition.cause == "schedule"


def test_pending_notices_are_cancelled_when_the_play_is_withdrawn(org):
    ActNowRule.objects.update(window_days=1)
    account = AccountFactory(funnel=1, owner=org["adr"])
    play = qualify(account)  # its new-play notice was never delivered (no on_commit here)
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(hours=23, minutes=30))
    notice = play.notices.get(kind="assigned")
    assert notice.status == "cancelled"
    assert sweep_at(T0 + timedelta(days=4)) == []


def test_exclusion_withdraws_with_the_reason(org, django_capture_on_commit_callbacks):
    account = AccountFactory(domain="rival.example", funnel=1, owner=org["adr"])
    play = qualify(account)
    staff = OwnerFactory(name="Admin").user
    staff.is_staff = True
    staff.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = api(staff).patch(
            "/api/v1/accounts/rival.example/",
            {"excluded": True, "excluded_reason": "Competitor"},
            format="json",
        )
    assert response.status_code == 200
    play.refresh_from_db()
    assert play.status == PlayStatus.WITHDRAWN
    assert play.withdrawn_reason == "Account excluded: Competitor"
    transition = MQATransition.objects.filter(account=account).first()
    assert transition.to_status == "excluded" and transition.cause == "exclusion"


def test_started_play_is_flagged_not_withdrawn(org):
    account = AccountFactory(funnel=1, owner=org["adr"])
    play = qualify(account)
    from plays.services import play_start

    play_start(play=play, by=org["adr"].user, now=T0 + timedelta(hours=1))
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=40))
    play.refresh_from_db()
    assert play.status == PlayStatus.STARTED
    assert play.account_disqualified_at == T0 + timedelta(days=40)
    assert play.log_entries.filter(kind="account_disqualified").exists()


def test_requalification_creates_a_new_play(org):
    account = AccountFactory(funnel=1, owner=org["adr"])
    first = qualify(account)
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=40))
    second = qualify(account, at=T0 + timedelta(days=41))
    first.refresh_from_db()
    assert first.status == PlayStatus.WITHDRAWN
    assert second.pk != first.pk and second.status == PlayStatus.PENDING
    assert Play.objects.filter(account=account, status__in=["pending", "started"]).count() == 1


def test_grace_period_keeps_a_flapping_account_and_withdraws_a_gone_one(org, client):
    SLAPolicy.objects.filter(funnel=1).update(withdraw_grace_hours=6)
    flapping = AccountFactory(funnel=1, owner=org["adr"])
    gone = AccountFactory(funnel=1, owner=org["adr"])
    flap_play, gone_play = qualify(flapping), qualify(gone)
    out = T0 + timedelta(days=31)
    accounts_evaluate(account_ids=[flapping.pk, gone.pk], now=out)
    flap_play.refresh_from_db()
    assert flap_play.status == "pending" and flap_play.withdraw_due_at == out + timedelta(hours=6)
    client.force_login(org["adr"].user)
    page = client.get(f"/plays/{flap_play.pk}/").content.decode()
    assert "unless it qualifies again" in page
    engage(flapping, out + timedelta(hours=2), "demo_request")
    # back within the grace
    accounts_evaluate(account_ids=[flapping.pk], now=out + timedelta(hours=2))
    sweep_at(out + timedelta(hours=7))
    flap_play.refresh_from_db()
    gone_play.refresh_from_db()
    assert flap_play.status == "pending" and flap_play.withdraw_due_at is None
    assert gone_play.status == "withdrawn"


def test_policy_switch_off_keeps_the_play(org):
    SLAPolicy.objects.filter(funnel=1).update(withdraw_when_disqualified=False)
    account = AccountFactory(funnel=1, owner=org["adr"])
    play = qualify(account)
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=31))
    play.refresh_from_db()
    assert play.status == "pending"


def test_api_status_filter_knows_withdrawn(org):
    account = AccountFactory(funnel=1, owner=org["adr"])
    qualify(account)
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=31))
    rows = api(org["adr"].user).get("/api/v1/plays/?status=withdrawn").json()["results"]
    assert [r["status"] for r in rows] == ["withdrawn"]
    assert rows[0]["withdrawn_reason"].startswith("Account no longer qualifies")
    schema = api(org["adr"].user).get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/v1/plays/"]["get"]["parameters"]
    status = next(p for p in params if p["name"] == "status")
    assert "withdrawn" in status["schema"]["enum"]


def test_report_counts_distinct_accounts_when_a_rule_flips_back_and_forth(org):
    from mqaflow.selectors import new_mqas_by_period

    ActNowRule.objects.update(window_days=1)
    account = AccountFactory(funnel=1, owner=org["adr"])
    other = AccountFactory(funnel=1, owner=org["adr"])
    qualify(account)  # Monday
    qualify(other)
    accounts_evaluate(account_ids=[account.pk], now=T0 + timedelta(days=2))  # out on Wednesday
    qualify(account, at=T0 + timedelta(days=3))  # in again on Thursday, same week
    assert MQATransition.objects.filter(account=account, to_status="mqa").count() == 2
    rows = new_mqas_by_period(period="week", start=T0.date(), end=T0.date() + timedelta(6))
    assert [(r.period, r.count) for r in rows] == [(T0.date(), 2)]  # two accounts, not three


# --- the play follows the people -----------------------------------------------------------


def test_owner_change_moves_the_play_and_notifies_once(org, django_capture_on_commit_callbacks):
    account = AccountFactory(domain="acme.example", name="Acme", funnel=1, owner=org["adr"])
    play = qualify(account)
    _, key = token_issue(user=OwnerFactory().user, name="CRM", integration=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api(token=key).patch(
            "/api/v1/accounts/acme.example/", {"owner": org["peer"].email}, format="json"
        )
    assert response.status_code == 200
    play.refresh_from_db()
    assert play.assignee == org["peer"]
    assert [(m.to[0], m.subject) for m in mail.outbox] == [
        ("bo@s.example", "Play assigned to you: Acme")
    ]
    assert "The account's owner changed to Bo Peer" in play.log_entries.get(kind="reassigned").note
    # a repeat of the same request changes nothing and tells nobody again
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        api(token=key).patch(
            "/api/v1/accounts/acme.example/", {"owner": org["peer"].email}, format="json"
        )
    assert mail.outbox == []


def test_owner_change_in_admin_moves_the_play(org, client, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    account = AccountFactory(name="Acme", funnel=1, owner=org["adr"])
    play = qualify(account)
    admin = get_user_model().objects.create_superuser("root@x.example", "root@x.example", "pw")
    client.force_login(admin)
    data = {
        "name": "Acme",
        "domain": account.domain,
        "funnel": 1,
        "employees": 500,
        "industry": "",
        "owner": org["peer"].pk,
        "excluded_reason": "",
        "contacts-TOTAL_FORMS": 0,
        "contacts-INITIAL_FORMS": 0,
        "mqa_transitions-TOTAL_FORMS": 0,
        "mqa_transitions-INITIAL_FORMS": 0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/mqaflow/account/{account.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    play.refresh_from_db()
    assert play.assignee == org["peer"]


def test_deactivation_moves_open_plays_to_the_delegate_else_the_manager(
    org, django_capture_on_commit_callbacks
):
    staff = OwnerFactory(name="Admin").user
    staff.is_staff = True
    staff.save()
    first = qualify(AccountFactory(name="One", funnel=1, owner=org["adr"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(staff).patch(
            f"/api/v1/owners/{org['adr'].email}/", {"active": False}, format="json"
        )
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.assignee == org["mgr"]  # no delegate: the manager
    assert "Ana ADR was deactivated" in first.log_entries.get(kind="reassigned").note
    # an owner with a standing delegate hands over to them
    org["peer"].delegate = org["ceo"]
    org["peer"].save()
    second = qualify(AccountFactory(name="Two", funnel=1, owner=org["peer"]))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        api(staff).patch(f"/api/v1/owners/{org['peer'].email}/", {"active": False}, format="json")
    second.refresh_from_db()
    assert second.assignee == org["ceo"]
    assert [m.to[0] for m in mail.outbox] == ["ceo@s.example"]


def test_escalations_skip_inactive_managers(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    org["mgr"].is_active = False
    org["mgr"].save()
    sent = sweep_at(T0 + timedelta(hours=24, minutes=1))
    assert "vp@s.example" in [to for to, _ in sent]
    assert "Mia Manager is inactive" in play.notices.get(step=2).note


def test_absence_moves_pending_plays_when_it_starts(org, django_capture_on_commit_callbacks):
    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    OwnerAbsence.objects.create(
        owner=org["adr"], starts_at=T0 + timedelta(hours=2), ends_at=T0 + timedelta(days=5)
    )
    assert absences_apply(now=T0 + timedelta(hours=1)) == 0  # not begun yet
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert absences_apply(now=T0 + timedelta(hours=2)) == 1
        assert absences_apply(now=T0 + timedelta(hours=3)) == 0  # applied once
    play.refresh_from_db()
    assert play.assignee == org["mgr"]  # no delegate: the manager
    assert [m.to[0] for m in mail.outbox] == ["mgr@s.example"]


def test_new_plays_never_go_to_an_away_adr_without_delegate(org):
    OwnerAbsence.objects.create(
        owner=org["adr"], starts_at=T0 - timedelta(days=1), ends_at=T0 + timedelta(days=5)
    )
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    assert play.assignee == org["mgr"]
    assert "away" in play.log_entries.get(kind="created").note


def test_reassign_notifies_the_new_assignee_once(org, django_capture_on_commit_callbacks):
    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        play_reassign(play=play, by=org["mgr"].user, to_owner=org["peer"], now=T0)
    assert [(m.to[0], m.subject) for m in mail.outbox] == [
        ("bo@s.example", "Play assigned to you: Acme")
    ]
    # Ana's unsent new-play notice is cancelled: the play is no longer hers
    assert sweep_at(T0 + timedelta(minutes=5)) == []
    rows = play.notices.filter(kind="assigned").order_by("step")
    assert [(r.step, r.recipient_email, r.status) for r in rows] == [
        (0, "ana@s.example", "cancelled"),
        (1, "bo@s.example", "sent"),
    ]
    # the reminder goes to the new assignee, the escalation up their chain
    sent = sweep_at(T0 + timedelta(hours=24, minutes=1))
    assert [to for to, _ in sent] == ["bo@s.example", "mgr@s.example"]


def test_reassign_choices_are_the_managers_team(org):
    outsider = OwnerFactory(name="Outsider")
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    with pytest.raises(PlayPermissionError):
        play_reassign(play=play, by=org["mgr"].user, to_owner=outsider)
    play_reassign(play=play, by=org["mgr"].user, to_owner=org["mgr"])  # themselves: fine
    play.refresh_from_db()
    assert play.assignee == org["mgr"]


# --- ADRs can say no, managers can see why ------------------------------------------------


def test_assignee_dismisses_with_an_adr_reason_and_a_peer_gets_403(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    reason = DismissReason.objects.get(slug="duplicate")
    managers_only = DismissReason.objects.create(slug="strategic", label="Strategic")
    with pytest.raises(PlayPermissionError):
        play_dismiss(play=play, by=org["peer"].user, reason=reason)
    with pytest.raises(PlayPermissionError):
        play_dismiss(play=play, by=org["adr"].user, reason=managers_only)
    response = api(org["peer"].user).post(
        f"/api/v1/plays/{play.pk}/dismiss/", {"reason": "duplicate"}, format="json"
    )
    assert response.status_code == 403
    response = api(org["adr"].user).post(
        f"/api/v1/plays/{play.pk}/dismiss/",
        {"reason": "duplicate", "note": "same as acme.com"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    play.refresh_from_db()
    assert play.dismissed_by == org["adr"].user and play.dismissed_note == "same as acme.com"


def test_manager_reopens_an_adr_dismissal_within_seven_days(
    org, client, django_capture_on_commit_callbacks
):
    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    reason = DismissReason.objects.get(slug="duplicate")
    play_dismiss(play=play, by=org["adr"].user, reason=reason, now=T0 + timedelta(hours=1))
    client.force_login(org["mgr"].user)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        team = client.get("/team/").content.decode()
    assert "Dismissed by ADRs" in team and "Duplicate account" in team
    with pytest.raises(PlayPermissionError):
        play_reopen(play=play, by=org["peer"].user, now=T0 + timedelta(days=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reopened = play_reopen(play=play, by=org["mgr"].user, now=T0 + timedelta(days=2))
    assert reopened.status == "pending"
    assert reopened.due_at == T0 + timedelta(days=3)  # a fresh 24 h SLA
    assert reopened.log_entries.filter(kind="reopened").exists()
    assert [m.to[0] for m in mail.outbox] == ["ana@s.example"]
    # its new ladder escalates once more, with fresh steps
    sent = sweep_at(T0 + timedelta(days=3, minutes=1))
    assert [to for to, _ in sent] == ["ana@s.example", "mgr@s.example"]
    # a second dismissal cannot be reopened after 7 days
    play_dismiss(play=play, by=org["mgr"].user, reason=reason, now=T0 + timedelta(days=4))
    with pytest.raises(Exception, match="7 days"):
        play_reopen(play=play, by=org["mgr"].user, now=T0 + timedelta(days=12))


def test_compliance_not_charged_for_a_managers_dismissal_nor_a_withdrawal(org):
    from plays.services import play_withdraw

    breached = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    by_manager = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    by_herself = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    withdrawn = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    moved = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    reason = DismissReason.objects.get(slug="wrong-fit")
    play_dismiss(play=by_manager, by=org["mgr"].user, reason=reason, now=T0 + timedelta(hours=2))
    play_dismiss(play=by_herself, by=org["adr"].user, reason=reason, now=T0 + timedelta(hours=2))
    play_withdraw(play=withdrawn, reason="Account no longer qualifies: test", now=T0)
    play_reassign(play=moved, by=org["mgr"].user, to_owner=org["peer"], now=T0 + timedelta(hours=1))
    figures = sla_compliance_by(
        key="holder_id",
        qs=Play.objects.all(),
        start=T0 - timedelta(days=1),
        end=T0 + timedelta(days=2),
    )
    # Ana: `breached` (late) and her own dismissal (in time); not the manager's dismissal,
    # not the withdrawn play, not the play that was Bo's at the deadline.
    assert figures[org["adr"].pk]["plays"] == 2
    assert figures[org["adr"].pk]["on_time"] == 1
    assert figures[org["peer"].pk] == {"plays": 1, "on_time": 0, "share": 0.0}
    assert Play.objects.get(pk=breached.pk).status == "pending"


def test_acting_on_a_play_that_changed_answers_409_saying_what_happened(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    play_reassign(play=play, by=org["mgr"].user, to_owner=org["peer"], now=T0)
    response = api(org["adr"].user).post(
        f"/api/v1/plays/{play.pk}/start/", {"message": "Hi"}, format="json"
    )
    assert response.status_code == 409
    assert "reassigned to Bo Peer by Mia Manager" in response.json()["detail"]
    from plays.services import play_start

    with pytest.raises(PlayConflict):
        play_start(play=play, by=org["adr"].user)


# --- notices that read right ----------------------------------------------------------------


def test_one_digest_per_recipient_per_sweep_and_no_duplicate_on_a_second_sweep(org):
    plays = [
        qualify(AccountFactory(name=f"Co {n:02}", funnel=1, owner=org["adr"])) for n in range(22)
    ]
    sent = sweep_at(T0 + timedelta(hours=72))
    recipients = [to for to, _ in sent]
    assert recipients.count("ceo@s.example") == 1
    assert sorted(recipients) == sorted(set(recipients))  # one email per person
    ceo_mail = next(m for m in mail.outbox if m.to == ["ceo@s.example"])
    assert all(f"Co {n:02}" in ceo_mail.body for n in range(22))
    assert ceo_mail.subject == "[Escalation] 22 plays not started in your team"  # compatibility
    keys = ceo_mail.extra_headers[NOTICE_HEADER].split(", ")
    assert len(keys) == 22
    for play in plays:
        assert play.notices.filter(step=4, status="sent", recipient=org["ceo"]).count() == 1
    assert sweep_at(T0 + timedelta(hours=73)) == []


def test_late_reminder_says_overdue_and_escalation_names_the_chain(org):
    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    play.notices.update(status="sent")  # the new-play notice went out
    sweep_at(T0 + timedelta(hours=30))  # reminder and the manager's step, both late
    reminder = next(m for m in mail.outbox if m.to == ["ana@s.example"])
    assert reminder.subject == "Overdue by 6 h: start the Acme play"
    assert "moments" not in reminder.subject
    manager = next(m for m in mail.outbox if m.to == ["mgr@s.example"])
    assert "You are the first manager told." in manager.body
    assert "Next: Vic VP in 18 h" in manager.body
    sweep_at(T0 + timedelta(hours=48))
    vp = mail.outbox[0]
    assert "Told before you: Mia Manager." in vp.body and "Next: Cara CEO" in vp.body
    sweep_at(T0 + timedelta(hours=72))
    assert "Nobody further up will be told." in mail.outbox[0].body


def test_reminder_mentions_the_manager_only_when_there_is_one():
    solo = OwnerFactory(name="Solo", email="solo@s.example")
    play = qualify(AccountFactory(funnel=1, owner=solo))
    play.notices.update(status="sent")
    sweep_at(T0 + timedelta(hours=18))
    assert "will be told" not in mail.outbox[0].body


def test_first_touch_email_never_holds_the_scoring_sentence(org, client):
    from plays.models import PlayTemplate

    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    template = PlayTemplate.objects.get(name="First touch")
    assert "{engagement}" not in template.email_body
    client.force_login(org["adr"].user)
    html = client.get(f"/plays/{play.pk}/").content.decode()
    textarea = html[html.index("<textarea") : html.index("</textarea>")]
    assert play.transition.explanation not in textarea
    assert 'id="internal-why"' in html


def test_unknown_template_placeholder_is_a_form_error(admin_client):
    response = admin_client.post(
        "/admin/plays/playtemplate/add/",
        {
            "name": "Bad",
            "funnels": "[]",
            "instructions": "Do it",
            "email_subject": "Hi {contact_name}",
            "email_body": "Why: {explanation} {nope}",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "Unknown placeholder(s) {explanation}, {nope}" in response.content.decode()
    page = admin_client.get("/admin/plays/playtemplate/add/").content.decode()
    assert "{contact_name}" in page and "{account}" in page


def test_reopened_play_starts_over_and_its_managers_are_told_again(org):
    play = qualify(AccountFactory(name="Acme", funnel=1, owner=org["adr"]))
    sweep_at(T0 + timedelta(hours=25))  # reminder and the manager told of the first breach
    from plays.services import play_start, plays_replan

    play_start(play=play, by=org["adr"].user, now=T0 + timedelta(hours=26))
    reason = DismissReason.objects.get(slug="wrong-fit")
    play_dismiss(play=play, by=org["adr"].user, reason=reason, now=T0 + timedelta(hours=27))
    reopened = play_reopen(play=play, by=org["mgr"].user, now=T0 + timedelta(days=2))
    assert reopened.status == "pending" and reopened.started_at is None
    assert reopened.clock_started_at == T0 + timedelta(days=2)
    # a re-plan keeps the reopened clock, not the creation time
    plays_replan(policy=reopened.policy, now=T0 + timedelta(days=2, hours=1))
    reopened.refresh_from_db()
    assert reopened.due_at == T0 + timedelta(days=3)
    sent = sweep_at(T0 + timedelta(days=3, minutes=1))
    assert "mgr@s.example" in [to for to, _ in sent]  # told again about the new breach


def test_reopen_for_a_deactivated_assignee_goes_to_their_successor(org):
    play = qualify(AccountFactory(funnel=1, owner=org["adr"]))
    reason = DismissReason.objects.get(slug="wrong-fit")
    play_dismiss(play=play, by=org["adr"].user, reason=reason, now=T0 + timedelta(hours=1))
    org["adr"].is_active = False
    org["adr"].save()
    reopened = play_reopen(play=play, by=org["mgr"].user, now=T0 + timedelta(hours=2))
    assert reopened.assignee == org["mgr"]


def test_owner_save_in_autocommit_moves_the_play(org, django_capture_on_commit_callbacks):
    account = AccountFactory(funnel=1, owner=org["adr"])
    play = qualify(account)
    account.refresh_from_db()
    account.owner = org["peer"]
    account.save()  # no surrounding service: the receiver brings its own transaction
    play.refresh_from_db()
    assert play.assignee == org["peer"]


def test_a_large_batch_of_qualifications_creates_plays_set_based(
    org, django_assert_max_num_queries, monkeypatch
):
    from mqaflow.signals import account_qualified
    from plays.creation import BATCH_THRESHOLD
    from plays.signals import play_changed

    # Plays' own work only: the webhook outbox listens per transition and per play.
    for signal in (account_qualified, play_changed):
        monkeypatch.setattr(signal, "receivers", [])
        monkeypatch.setattr(signal, "sender_receivers_cache", {})

    ActNowRule.objects.update(window_days=1)
    accounts = AccountFactory.create_batch(BATCH_THRESHOLD + 10, funnel=1, owner=org["adr"])
    busy = accounts[0]
    qualify(busy)  # already has a play; evaluated out and in again below
    # out: its play is withdrawn
    accounts_evaluate(account_ids=[busy.pk], now=T0 + timedelta(days=3))
    for account in accounts:
        engage(account, T0 + timedelta(days=10), "demo_request")
    now = T0 + timedelta(days=10)
    with django_assert_max_num_queries(60):  # the engine's queries and a few per batch
        accounts_evaluate(account_ids=[a.pk for a in accounts], now=now)
    plays = Play.objects.filter(account__in=accounts, status="pending")
    assert plays.count() == len(accounts)
    play = plays.get(account=busy)
    assert play.assignee == org["adr"] and play.due_at == now + timedelta(hours=24)
    assert play.log_entries.get(kind="created").to_assignee == org["adr"]
    notice = play.notices.get(kind="assigned")
    assert notice.status == "pending" and notice.next_attempt_at == now
    # the next sweep delivers every new-play notice in one digest to the ADR
    sent = sweep_at(now + timedelta(minutes=1))
    assert sent == [("ana@s.example", f"{len(accounts)} plays need you")]
