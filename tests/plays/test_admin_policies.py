"""Admin that cannot be misconfigured silently: ladders, time zones, re-plans, history."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from mqaflow.models import MQARule
from mqaflow.qualification.engine import accounts_evaluate
from plays.admin import ladder_errors
from plays.models import Notice, NoticeStatus, Play, SLAPolicy
from plays.services import play_start
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    OwnerFactory,
    activity,
    qualified_plays,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def policy_form(policy: SLAPolicy, steps: list[tuple], *, fresh: bool = True, **changes) -> dict:
    """The POST body of the SLA policy change form with its ladder inline (`fresh`: the
    stored steps are dropped and the given ones added)."""
    data = {
        "funnel": policy.funnel,
        "response_hours": policy.response_hours,
        "reminder_percent": policy.reminder_percent,
        "time_zone": policy.time_zone,
        "work_days": policy.work_days,
        "work_start": "09:00",
        "work_end": "17:00",
        "holiday_country": "",
        "holiday_subdivision": "",
        "withdraw_when_disqualified": "on",
        "withdraw_grace_hours": 0,
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    if fresh:
        policy.steps.all().delete()
    for i, (hours, levels, top, warning) in enumerate(steps):
        data[f"steps-{i}-after_hours"] = hours
        data[f"steps-{i}-levels_up"] = levels or ""
        if top:
            data[f"steps-{i}-to_top"] = "on"
        if warning:
            data[f"steps-{i}-pre_breach_warning"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


def test_ladder_rules():
    def step(hours, levels=None, top=False, warning=False):
        return {
            "after_hours": hours,
            "levels_up": levels,
            "to_top": top,
            "pre_breach_warning": warning,
        }

    assert ladder_errors(24, [step(24, 1), step(48, 2), step(72, top=True)]) == []
    assert "levels never go down" in ladder_errors(24, [step(24, 2), step(48, 1)])[0]
    assert "levels never go down" in ladder_errors(24, [step(24, top=True), step(48, 3)])[0]
    assert "same hours" in ladder_errors(24, [step(24, 1), step(24, 2)])[0]
    assert "before the 24 h deadline" in ladder_errors(24, [step(12, 1)])[0]
    assert ladder_errors(24, [step(12, 1, warning=True), step(24, 1)]) == []


def test_admin_refuses_a_ladder_that_goes_down_or_fires_before_the_deadline(admin_client):
    policy = SLAPolicy.objects.get(funnel=1)
    url = reverse("admin:plays_slapolicy_change", args=[policy.pk])
    page = admin_client.post(
        url, policy_form(policy, [(24, 2, False, False), (48, 1, False, False)])
    )
    assert page.status_code == 200 and "levels never go down" in page.content.decode()
    page = admin_client.post(url, policy_form(policy, [(12, 1, False, False)]))
    assert page.status_code == 200 and "pre breach warning" in page.content.decode()
    page = admin_client.post(
        url, policy_form(policy, [(12, 1, False, True), (48, 2, False, False)])
    )
    assert page.status_code == 302
    assert list(policy.steps.values_list("after_hours", flat=True)) == [12, 48]


def test_unknown_business_hours_time_zone_is_a_form_error_not_a_500(admin_client):
    policy = SLAPolicy.objects.get(funnel=1)
    url = reverse("admin:plays_slapolicy_change", args=[policy.pk])
    body = policy_form(policy, [(24, 1, False, False)], business_hours="on", time_zone="Mars/Base")
    page = admin_client.post(url, body)
    assert page.status_code == 200
    assert "Unknown time zone" in page.content.decode()


def test_saving_a_policy_with_pending_plays_offers_the_replan(admin_client):
    adr = OwnerFactory()
    accounts = AccountFactory.create_batch(3, funnel=1, owner=adr)
    for account in accounts:
        EventFactory(
            account=account,
            contact=ContactFactory(account=account),
            activity=activity("demo_request"),
            occurred_at=T0 - timedelta(hours=1),
        )
    accounts_evaluate(account_ids=[a.pk for a in accounts], now=T0)
    started = Play.objects.filter(account=accounts[0]).get()
    play_start(play=started, by=adr.user, now=T0 + timedelta(hours=1))
    policy = SLAPolicy.objects.get(funnel=1)
    url = reverse("admin:plays_slapolicy_change", args=[policy.pk])
    body = policy_form(policy, [(8, 1, False, False)], response_hours=8)
    page = admin_client.post(url, body, follow=True)
    html = page.content.decode()
    assert "2 pending play(s) keep the deadlines they were created with" in html
    replan = reverse("admin:plays_slapolicy_replan", args=[policy.pk])
    assert replan in html
    assert "2 pending plays" in admin_client.get(replan).content.decode()
    page = admin_client.post(replan, follow=True)
    assert "Re-planned 2 pending play(s)." in page.content.decode()
    started.refresh_from_db()
    assert started.due_at == T0 + timedelta(hours=24)  # a started play keeps its deadline
    for play in Play.objects.filter(status="pending"):
        assert play.due_at == T0 + timedelta(hours=8)


def test_retry_now_puts_failed_and_unknown_notices_back_for_the_sweep(admin_client):
    plays = qualified_plays(OwnerFactory(), 3, T0)
    notices = [Notice.objects.get(play=play) for play in plays]
    for notice, status in zip(notices, ["failed", "unknown", "sent"], strict=True):
        Notice.objects.filter(pk=notice.pk).update(status=status, last_error="boom")
    page = admin_client.post(
        reverse("admin:plays_notice_changelist"),
        {"action": "retry_now", "_selected_action": [n.pk for n in notices]},
        follow=True,
    )
    assert "2 notice(s) will be retried by the next sweep." in page.content.decode()
    after = [Notice.objects.get(pk=n.pk) for n in notices]
    assert [n.status for n in after] == [NoticeStatus.PENDING, NoticeStatus.PENDING, "sent"]
    assert [n.last_error for n in after] == ["", "", "boom"]


def test_defaults_have_a_first_history_row_and_step_edits_show_in_the_policy_history(
    admin_client,
):
    policy = SLAPolicy.objects.get(funnel=1)
    first = policy.history.earliest("history_date")
    assert first.history_type == "+" and first.history_change_reason == "Installed as a default"
    assert MQARule.objects.first().history.exists()
    url = reverse("admin:plays_slapolicy_change", args=[policy.pk])
    steps = list(policy.steps.order_by("after_hours"))
    body = policy_form(
        policy,
        [(24, 1, False, False), (48, 3, False, False), (72, None, True, False)],
        fresh=False,
    )
    # edit the existing step rows (not delete and re-add) for a field-by-field diff
    body.update({"steps-INITIAL_FORMS": 3})
    for i, step in enumerate(steps):
        body[f"steps-{i}-id"] = step.pk
        body[f"steps-{i}-policy"] = policy.pk
    assert admin_client.post(url, body).status_code == 302
    latest = policy.history.latest("history_date")
    assert "levels_up: 2 → 3" in latest.history_change_reason
    history = admin_client.get(reverse("admin:plays_slapolicy_history", args=[policy.pk]))
    assert "levels_up: 2 → 3" in history.content.decode()
