from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from integrations.models import WebhookEndpoint
from mqaflow.models import Account, MQAClause, MQARule, Owner
from plays.admin import policy_preview
from plays.models import SLAPolicy
from tests.factories import AccountFactory, UserFactory, org_chart, qualified_play

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_every_admin_changelist_and_add_page_renders(admin_client):
    AccountFactory()
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        url = reverse(f"admin:{info[0]}_{info[1]}_changelist")
        assert admin_client.get(url).status_code == 200, url
        response = admin_client.get(reverse(f"admin:{info[0]}_{info[1]}_add"))
        assert response.status_code in (200, 403), url  # 403: read-only audit models


def test_account_page_shows_transitions_and_policy_page_previews_deadlines(admin_client):
    account = AccountFactory()
    page = admin_client.get(reverse("admin:mqaflow_account_change", args=[account.pk]))
    assert page.status_code == 200 and b"MQA transition" in page.content
    policy = SLAPolicy.objects.get(funnel=1)
    page = admin_client.get(reverse("admin:plays_slapolicy_change", args=[policy.pk]))
    assert b"breaches" in page.content


def test_policy_preview_in_words():
    policy = SLAPolicy.objects.get(funnel=1)
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=ZoneInfo("UTC"))
    assert policy_preview(policy, friday) == (
        "a Funnel 1 play created Fri 16:00 breaches Sat 16:00, reaches the assignee's manager "
        "Sat 16:00, reaches 2 levels up Sun 16:00, reaches the CEO (top of the chain) Mon 16:00."
    )


def test_tied_rule_segments_are_a_validation_error():
    existing = MQARule.objects.filter(funnel=1, is_active=True).first()
    clash = MQARule(name="Clash", funnel=1, size_band=existing.size_band)
    with pytest.raises(Exception, match="already covers"):
        clash.full_clean()


def test_editing_a_rule_in_admin_recomputes_its_segment(
    admin_client, django_capture_on_commit_callbacks
):
    rule = MQARule.objects.get(funnel=1, size_band__slug="large")
    AccountFactory(funnel=1, employees=500)
    AccountFactory(funnel=2, employees=500)
    clause = MQAClause.objects.get(rule=rule, order=1)  # the rule's first clause of two
    versions = rule.history.count()
    url = reverse("admin:mqaflow_mqarule_change", args=[rule.pk])
    data = {
        "name": rule.name,
        "funnel": 1,
        "size_band": rule.size_band_id,
        "is_active": "on",
        "description": "",
        "clauses-TOTAL_FORMS": 1,
        "clauses-INITIAL_FORMS": 1,
        "clauses-MIN_NUM_FORMS": 0,
        "clauses-MAX_NUM_FORMS": 1000,
        "clauses-0-id": clause.pk,
        "clauses-0-rule": rule.pk,
        "clauses-0-order": 1,
        "clauses-0-name": clause.name,
        "clauses-0-window_days": 30,
        "clauses-0-personas": "[]",
        "clauses-0-min_minutes": "20",
        "clauses-0-min_people": 2,
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert b"1 account(s) will be re-evaluated" in response.content
    assert len(callbacks) == 1
    assert rule.history.count() == versions + 1


def admin_save(model, obj, changes: dict, user) -> None:
    """Save `obj` through its ModelAdmin's form and save_model, as the change page does."""
    request = RequestFactory().post("/")
    request.user = user
    model_admin = admin.site._registry[model]
    form_class = model_admin.get_form(request, obj, change=True)
    assert set(changes) <= set(form_class.base_fields)  # not read-only for this user
    data = {
        name: value
        for name, value in model_to_dict(obj, fields=form_class.base_fields).items()
        if value is not None
    }
    form = form_class({**data, **changes}, instance=obj)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, True)


def test_an_owner_changed_in_admin_takes_the_open_play_along(django_capture_on_commit_callbacks):
    org = org_chart("mgr", "adr", "peer")
    play = qualified_play(org["adr"])
    staff = UserFactory(is_staff=True, is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        admin_save(Account, play.account, {"owner": org["peer"].pk}, staff)
    play.refresh_from_db()
    assert play.assignee == org["peer"]
    moved = play.log_entries.get(kind="reassigned")
    assert moved.actor == staff and moved.to_assignee == org["peer"]


def test_turning_an_endpoint_back_on_in_admin_clears_its_failing_streak():
    failed_at = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        name="CRM",
        url="https://crm.example/hook",
        is_active=False,
        failing_since=failed_at,
        disabled_at=failed_at,
        disabled_reason="failing for 24 hours",
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin_save(WebhookEndpoint, endpoint, {"is_active": True}, staff)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.failing_since, endpoint.disabled_at) == (True, None, None)
    assert endpoint.disabled_reason == ""


def test_an_owner_deactivated_in_admin_hands_their_open_play_to_the_delegate(
    django_capture_on_commit_callbacks,
):
    org = org_chart("mgr", "adr", "peer")
    play = qualified_play(org["adr"])
    staff = UserFactory(is_staff=True, is_superuser=True)
    changes = {"is_active": False, "delegate": org["peer"].pk}
    with django_capture_on_commit_callbacks(execute=True):
        admin_save(Owner, org["adr"], changes, staff)
    play.refresh_from_db()
    assert play.assignee == org["peer"]
    assert play.log_entries.get(kind="reassigned").actor == staff
