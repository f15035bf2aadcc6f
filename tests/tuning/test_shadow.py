"""Shadow mode: a draft decided at every recompute records its would-be transitions only."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mqaflow.models import (
    Account,
    MQAClause,
    MQATransition,
    RuleSet,
    ShadowStatus,
    ShadowTransition,
)
from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.rulesets import rule_set_copy, rule_set_promote
from plays.models import Notice, Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

pytestmark = pytest.mark.django_db


def shadow_draft(minutes: int = 10) -> RuleSet:
    """A copy of the live set whose clauses need only `minutes` minutes and one person."""
    draft = rule_set_copy(source=RuleSet.objects.live(), name="Lower bar")
    MQAClause.objects.filter(rule__rule_set=draft).update(min_minutes=minutes, min_people=1)
    draft.shadow = True
    draft.save()
    return draft


def warm_account(owner, now, **fields) -> Account:
    """One web visit of 10 minutes: below every live clause, above the draft's."""
    account = AccountFactory(owner=owner, **fields)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("web_visit"),
        minutes=10,
        occurred_at=now - timedelta(days=1),
    )
    return account


def test_a_draft_in_shadow_records_transitions_and_touches_nothing_live(org):
    now = timezone.now()
    draft = shadow_draft()
    account = warm_account(org["adr"], now)
    before = Account.objects.values().get(pk=account.pk)

    accounts_evaluate(account_ids=[account.pk], now=now, cause="ingest")

    shadow = ShadowTransition.objects.get(rule_set=draft, account=account)
    assert (shadow.from_status, shadow.to_status, shadow.at) == ("not_qualified", "mqa", now)
    assert shadow.clause.rule.rule_set == draft
    assert shadow.figures["minutes"] == 10.0
    assert shadow.cause == "ingest"
    assert ShadowStatus.objects.get(rule_set=draft, account=account).status == "mqa"
    assert Account.objects.values().get(pk=account.pk) == before
    assert not MQATransition.objects.filter(account=account).exists()
    assert not Play.objects.exists() and not Notice.objects.exists()
    assert mail.outbox == []

    # Decided again: no change, nothing recorded twice; aged out, it is recorded back.
    accounts_evaluate(account_ids=[account.pk], now=now + timedelta(minutes=15))
    assert ShadowTransition.objects.filter(rule_set=draft).count() == 1
    accounts_evaluate(now=now + timedelta(days=40))  # a full recompute
    back = ShadowTransition.objects.filter(rule_set=draft).first()
    assert (back.from_status, back.to_status) == ("mqa", "not_qualified")


def test_the_draft_starts_from_the_live_statuses(org):
    now = timezone.now()
    live_mqa = AccountFactory(owner=org["adr"], mqa_status="mqa")
    draft = shadow_draft(minutes=10_000)  # qualifies nobody
    accounts_evaluate(account_ids=[AccountFactory(owner=org["adr"]).pk], now=now)
    assert ShadowStatus.objects.get(rule_set=draft, account=live_mqa).status == "mqa"
    accounts_evaluate(account_ids=[live_mqa.pk], now=now)
    gone = ShadowTransition.objects.get(rule_set=draft, account=live_mqa)
    assert (gone.from_status, gone.to_status) == ("mqa", "not_qualified")


def test_without_a_draft_in_shadow_a_recompute_pays_one_query(org):
    now = timezone.now()
    draft = shadow_draft()
    draft.shadow = False
    draft.save()
    account = warm_account(org["adr"], now)
    with CaptureQueriesContext(connection) as queries:
        accounts_evaluate(account_ids=[account.pk], now=now)
    # (loading a rule set names its `shadow` column: only what follows FROM counts)
    shadowy = [q["sql"] for q in queries if "shadow" in q["sql"].partition(" FROM ")[2]]
    assert len(shadowy) == 1 and 'FROM "mqaflow_ruleset"' in shadowy[0]
    assert not ShadowTransition.objects.exists()


def test_only_drafts_run_in_shadow_and_promotion_ends_it(org):
    live = RuleSet.objects.live()
    live.shadow = True
    with pytest.raises(ValidationError) as raised:
        live.full_clean()
    assert "shadow" in raised.value.message_dict
    draft = shadow_draft()
    accounts_evaluate(account_ids=[warm_account(org["adr"], timezone.now()).pk])
    assert ShadowStatus.objects.filter(rule_set=draft).exists()
    rule_set_promote(rule_set=draft)
    draft.refresh_from_db()
    assert (draft.status, draft.shadow) == ("live", False)
    assert not ShadowStatus.objects.filter(rule_set=draft).exists()
    assert ShadowTransition.objects.filter(rule_set=draft).exists()  # kept for the scorecard


def test_a_failing_draft_does_not_stop_the_live_run(org, monkeypatch, caplog):
    from mqaflow.qualification import shadow

    shadow_draft()

    def broken(**kwargs):
        raise RuntimeError("bad draft")

    monkeypatch.setattr(shadow, "shadow_evaluate", broken)
    play_account = AccountFactory(owner=org["adr"])
    EventFactory(
        account=play_account,
        contact=ContactFactory(account=play_account),
        activity=activity("demo_request"),
    )
    result = accounts_evaluate(account_ids=[play_account.pk])
    assert [t.to_status for t in result.transitions] == ["mqa"]
    assert "shadow evaluation of rule set" in caplog.text


def test_put_back_in_shadow_in_admin_a_draft_starts_again_from_live(org, admin_client):
    from django.urls import reverse

    now = timezone.now()
    draft = shadow_draft()
    account = warm_account(org["adr"], now)
    accounts_evaluate(account_ids=[account.pk], now=now)
    assert ShadowStatus.objects.filter(rule_set=draft).exists()
    url = reverse("admin:mqaflow_ruleset_change", args=[draft.pk])
    form = {"name": draft.name, "description": "", "conversion_days": 90}
    weights = {
        f"{prefix}-{key}": value
        for prefix in ("activity_weights", "seniority_weights")
        for key, value in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()
    }
    admin_client.post(url, {**form, **weights})  # shadow off
    draft.refresh_from_db()
    assert not draft.shadow and ShadowStatus.objects.filter(rule_set=draft).exists()
    admin_client.post(url, {**form, **weights, "shadow": "on"})
    draft.refresh_from_db()
    assert draft.shadow and not ShadowStatus.objects.filter(rule_set=draft).exists()
