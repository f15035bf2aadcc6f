"""The tuning lab's part of the demo: a draft that lowers Funnel 2's bar, running in shadow,
one finished backtest of it, and the admin opted in to the weekly digest, so `make run`
opens on a lab with something in it."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from mqaflow.demo import ADMIN_EMAIL, Demo
from mqaflow.models import MQAClause, RuleSet, RuleSetStatus
from mqaflow.rulesets import rule_set_copy

from .backtests import backtest_create, backtest_execute
from .models import DigestSubscription

DEMO_DRAFT = "Funnel 2 from one engaged person (demo)"


def tuning_seed(*, demo: Demo) -> None:
    if RuleSet.objects.filter(name=DEMO_DRAFT).exists():
        return
    draft = rule_set_copy(source=RuleSet.objects.live(), name=DEMO_DRAFT)
    draft.description = (
        "Funnel 2 qualifies on one engaged person with half the minutes: the weekly "
        "meeting's question of whether in-profile accounts wait too long."
    )
    draft.shadow = draft.status == RuleSetStatus.DRAFT
    draft.save()
    for clause in MQAClause.objects.filter(rule__rule_set=draft, rule__funnel=2, order=1):
        clause.min_minutes = (clause.min_minutes or Decimal(0)) / 2
        clause.min_people = 1
        clause.save()
    admin = get_user_model().objects.filter(username=ADMIN_EMAIL).first()
    if admin is not None:
        DigestSubscription.objects.get_or_create(user=admin)

    def backtest() -> None:  # after the commit: it reads what the seeders wrote
        run = backtest_create(rule_set=draft, weeks=13, user=admin, now=demo.now)
        backtest_execute(run_id=run.pk)

    demo.after_commit.append(backtest)
