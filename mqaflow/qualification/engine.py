"""Where MQAs are decided.

`evaluate_accounts` measures any set of accounts with a few grouped queries per chunk,
decides each account against the rules in force, and writes only the accounts whose status
changed: each change is a locked row update, an `MQATransition` row and one signal, all in
one transaction, so two recomputes racing on the same account record it once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mqaflow.models import (
    Account,
    ActNowRule,
    MQAClause,
    MQARule,
    MQAStatus,
    MQATransition,
)
from mqaflow.signals import account_disqualified, account_qualified

from . import explain
from .measure import Figures, measure_act_now, measure_scopes
from .rulebook import ClauseCheck, Rulebook, act_now_scope, clause_scope
from .writes import accounts_write_state

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5000


@dataclass
class Decision:
    account_id: int
    status: str
    explanation: str
    size_band: str = ""
    rule: MQARule | None = None
    clause: MQAClause | None = None
    act_now_rule: ActNowRule | None = None
    figures: dict = field(default_factory=dict)


@dataclass
class EvaluationResult:
    evaluated: int = 0
    transitions: list[MQATransition] = field(default_factory=list)
    would_change: list[tuple[Account, Decision]] = field(default_factory=list)

    def by_funnel(self) -> Counter:
        """(funnel, from → to) counts, for command summaries."""
        if self.transitions:
            return Counter((t.funnel, f"{t.from_status} → {t.to_status}") for t in self.transitions)
        return Counter((a.funnel, f"{a.mqa_status} → {d.status}") for a, d in self.would_change)


def evaluate_accounts(
    account_ids: Iterable[int] | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    cause: str = "",
) -> EvaluationResult:
    """Evaluate the given accounts (all when None) and record every status change.

    `cause` (ingest, schedule, rule change by <user>, manual, exclusion) is stored on each
    transition, so history tells a real change of engagement from a re-run."""
    now = now or timezone.now()
    rulebook = Rulebook(timezone.localdate(now))
    ids = (
        sorted(set(account_ids))
        if account_ids is not None
        else list(Account.objects.order_by("pk").values_list("pk", flat=True))
    )
    result = EvaluationResult()
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk = ids[start : start + CHUNK_SIZE]
        accounts = list(
            Account.objects.filter(pk__in=chunk).only(
                "pk", "funnel", "employees", "excluded", "excluded_reason", "mqa_status"
            )
        )
        decisions = decide(accounts, rulebook=rulebook, now=now)
        changed = [(a, decisions[a.pk]) for a in accounts if decisions[a.pk].status != a.mqa_status]
        result.evaluated += len(accounts)
        if dry_run:
            result.would_change.extend(changed)
        else:
            result.transitions.extend(_record(changed, now=now, cause=cause))
            Account.objects.filter(pk__in=chunk).update(last_evaluated_at=now)
        if progress:
            progress(len(accounts))
    return result


def decide(accounts: list[Account], *, rulebook: Rulebook, now: datetime) -> dict[int, Decision]:
    """Decide every account of a chunk from grouped measurements (no per-account query)."""
    ids = [a.pk for a in accounts]
    measured = measure_scopes(rulebook.scopes(), ids, now)
    act_now = measure_act_now(
        {rule.pk: act_now_scope(rule) for rule in rulebook.act_now_rules}, ids, now
    )
    decisions = {}
    for account in accounts:
        band = rulebook.band_for(account.employees)
        band_slug = band.slug if band else ""
        if account.excluded:
            decisions[account.pk] = Decision(
                account.pk, MQAStatus.EXCLUDED, explain.excluded(account.excluded_reason), band_slug
            )
            continue
        decision = _act_now(account, rulebook, act_now) or _by_rule(
            account, band, rulebook, measured
        )
        decision.size_band = band_slug
        decisions[account.pk] = decision
    return decisions


def _act_now(account: Account, rulebook: Rulebook, act_now: dict) -> Decision | None:
    for rule in rulebook.act_now_rules:
        found = act_now[rule.pk].get(account.pk)
        if not found:
            continue
        people, anonymous, latest = found
        # An anonymous event is somebody, but cannot prove a seniority or a second person.
        anonymous_counts = rule.min_people == 1 and not rule.min_seniority and anonymous > 0
        if people >= rule.min_people or anonymous_counts:
            return Decision(
                account.pk,
                MQAStatus.MQA,
                explain.qualified_by_act_now(rule, people, anonymous, latest),
                act_now_rule=rule,
                figures={
                    "act_now": rule.activity.key,
                    "people": people,
                    "anonymous": anonymous,
                    "window_days": rule.window_days,
                },
            )
    return None


def _by_rule(account: Account, band, rulebook: Rulebook, measured: dict) -> Decision:
    rule = rulebook.rule_for(account.funnel, band)
    if rule is None:
        return Decision(
            account.pk, MQAStatus.NOT_QUALIFIED, explain.not_qualified(None, [], rulebook.bandwidth)
        )
    checks = []
    for clause in rule.clauses.all():
        scope = clause_scope(clause)
        figures = measured[scope].get(account.pk) or Figures(window_days=scope.window_days)
        check = ClauseCheck(clause, rulebook.bandwidth)
        if not check.missing(figures):
            return Decision(
                account.pk,
                MQAStatus.MQA,
                explain.qualified_by_clause(rule, check, figures, rulebook.bandwidth),
                rule=rule,
                clause=clause,
                figures={**figures.as_dict(), "bandwidth_factor": float(rulebook.bandwidth.factor)},
            )
        checks.append((check, figures))
    best = checks[0][1].as_dict() if checks else {}
    return Decision(
        account.pk,
        MQAStatus.NOT_QUALIFIED,
        explain.not_qualified(rule, checks, rulebook.bandwidth),
        rule=rule,
        figures=best,
    )


def _record(
    changed: list[tuple[Account, Decision]], *, now: datetime, cause: str = ""
) -> list[MQATransition]:
    """Lock the changed rows, re-check their status and write each transition once."""
    if not changed:
        return []
    seen = {account.pk: (account.mqa_status, decision) for account, decision in changed}
    recorded: list[MQATransition] = []
    with transaction.atomic():
        # Lock in pk order so two recomputes never deadlock; a row another recompute
        # changed meanwhile no longer has the status we saw and is left to it.
        locked = list(Account.objects.select_for_update().filter(pk__in=seen).order_by("pk"))
        to_update = []
        for account in locked:
            old, decision = seen[account.pk]
            if account.mqa_status != old:
                continue
            _apply(account, decision, now)
            to_update.append(account)
            recorded.append(
                MQATransition(
                    account=account,
                    from_status=old,
                    to_status=decision.status,
                    at=now,
                    rule=decision.rule,
                    clause=decision.clause,
                    act_now_rule=decision.act_now_rule,
                    funnel=account.funnel,
                    size_band=decision.size_band,
                    figures=decision.figures,
                    explanation=decision.explanation,
                    cause=cause[:200],
                )
            )
        if not to_update:
            return []
        accounts_write_state(to_update)
        MQATransition.objects.bulk_create(recorded, batch_size=1000)
        for transition in recorded:
            signal = (
                account_qualified
                if transition.to_status == MQAStatus.MQA
                else account_disqualified
                if transition.from_status == MQAStatus.MQA
                else None
            )
            if signal is not None:
                signal.send(sender=MQATransition, transition=transition)
    logger.info("recorded %d MQA transition(s)", len(recorded))
    return recorded


def _apply(account: Account, decision: Decision, now: datetime) -> None:
    account.mqa_status = decision.status
    account.qualified_at = now if decision.status == MQAStatus.MQA else None
    account.mqa_rule = decision.rule
    account.mqa_clause = decision.clause
    account.mqa_act_now_rule = decision.act_now_rule
    account.mqa_figures = decision.figures
    account.mqa_explanation = decision.explanation


def explain_account(account: Account, *, now: datetime | None = None) -> Decision:
    """What the engine would decide for one account right now, without writing anything.

    The stored explanation is the one of the last transition; this answers "why is it not
    an MQA yet?" for an account whose status has not changed.
    """
    now = now or timezone.now()
    return decide([account], rulebook=Rulebook(timezone.localdate(now)), now=now)[account.pk]
