from io import StringIO

import pytest
from django.core.management import call_command

from mqaflow.models import Account, EngagementEvent, Opportunity, Owner, RuleSet
from mqaflow.qualification.outcomes import conversion_summary
from plays.models import Play
from tuning.models import BacktestRun, DigestSubscription

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_story_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert "admin@mqaflow.example / mqaflow-demo" in text
    assert "manager.east@mqaflow.example" in text and "adr1@mqaflow.example" in text

    ceo = Owner.objects.get(manager__isnull=True)
    adrs = Owner.objects.filter(title="ADR")
    assert adrs.count() == 6
    assert all(a.managers()[-1] == ceo for a in adrs)
    assert Account.objects.count() >= 60
    assert set(Account.objects.values_list("funnel", flat=True)) == {1, 2, 3}
    assert Account.objects.filter(employees__lt=200).exists()
    assert Account.objects.filter(employees__gte=200).exists()
    assert Account.objects.filter(excluded=True, excluded_reason="partner").exists()
    assert Account.objects.filter(owner__isnull=True).exists()
    statuses = set(Account.objects.values_list("mqa_status", flat=True))
    assert statuses == {"mqa", "not_qualified", "excluded"}
    assert Account.objects.filter(mqa_act_now_rule__isnull=False).exists()
    assert Play.objects.count() == Account.objects.filter(mqa_status="mqa").count()
    assert Opportunity.objects.filter(won=False).exists()
    assert conversion_summary(days=90).converted > 0  # some MQAs led to an opportunity
    draft = RuleSet.objects.get(status="draft")
    assert draft.shadow
    run = BacktestRun.objects.get(rule_set=draft)
    assert run.status == "done" and run.results["totals"]["draft"] >= 0
    assert DigestSubscription.objects.filter(user__username="admin@mqaflow.example").exists()
    counts = (
        Owner.objects.count(),
        Account.objects.count(),
        EngagementEvent.objects.count(),
        Play.objects.count(),
        Opportunity.objects.count(),
    )

    call_command("seed_demo", stdout=StringIO())
    assert counts == (
        Owner.objects.count(),
        Account.objects.count(),
        EngagementEvent.objects.count(),
        Play.objects.count(),
        Opportunity.objects.count(),
    )
