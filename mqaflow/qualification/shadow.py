"""Shadow mode: a draft decided at every recompute next to the live rules, on the same
accounts at the same moment, so the scorecard can compare the two on fresh data.

A draft in shadow only writes its own records: a `ShadowTransition` for every status it
would have changed and its `ShadowStatus` per account (what the next decision is compared
with). It touches no account field, creates no play, sends no signal and so no email.

The statement is the engine's (`DecisionQuery` under the draft's `Rulebook`), compared in
SQL with the draft's own statuses instead of the accounts' live one, so a full recompute
returns only the accounts whose shadow status changes, as the live run does. The first
time a draft runs in shadow its statuses are seeded from the live ones: the draft starts
where the live set is and records only where it departs from it. A recompute with no draft
in shadow pays one query.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from mqaflow.models import MQAStatus, RuleSet, RuleSetStatus, ShadowStatus, ShadowTransition

from .rulebook import Rulebook
from .sql import ACCOUNTS, DecisionQuery

logger = logging.getLogger(__name__)

SHADOW_STATUSES = ShadowStatus._meta.db_table
# A status without a row: what a new account starts as.
UNSEEN = MQAStatus.NOT_QUALIFIED


class ShadowQuery(DecisionQuery):
    """The engine's statement for a draft, compared with the draft's shadow statuses: the
    rows' `old_status` is the shadow status, and only those that change are returned."""

    def __init__(self, rulebook: Rulebook, now: datetime) -> None:
        super().__init__(rulebook, now)
        self.rule_set_id = rulebook.rule_set.pk

    def statement(
        self, account_ids: Sequence[int] | None = None, *, changed_only: bool = True
    ) -> tuple[str, list, list[str]]:
        inner, params, figures = super().statement(account_ids, changed_only=False)
        old = "COALESCE(s.status, %s)"
        columns = ", ".join(
            [
                "d.id",
                f"{old} AS mqa_status",
                *(
                    f"d.{c}"
                    for c in (
                        "funnel",
                        "employees",
                        "excluded",
                        "excluded_reason",
                        "status",
                        "rule_id",
                        "clause_id",
                        "act_now_id",
                        *figures,
                    )
                ),
            ]
        )
        sql = (
            f"SELECT {columns} FROM ({inner}) d LEFT JOIN {SHADOW_STATUSES} s "
            f"ON s.account_id = d.id AND s.rule_set_id = %s"
            + (f" WHERE d.status <> {old}" if changed_only else "")
        )
        # Parameters in textual order: the select list, the inner statement's, the join's.
        after = [self.rule_set_id, UNSEEN] if changed_only else [self.rule_set_id]
        return sql, [UNSEEN, *params, *after], figures


def shadow_drafts() -> list[RuleSet]:
    """The drafts running in shadow (only drafts may: a live or retired set is not)."""
    return list(RuleSet.objects.filter(status=RuleSetStatus.DRAFT, shadow=True).order_by("pk"))


def shadows_evaluate(
    *, account_ids: Sequence[int] | None, now: datetime, cause: str = ""
) -> dict[int, int]:
    """Decide every draft in shadow for these accounts (all when None); returns
    {rule set id: shadow transitions recorded}. One query when no draft is in shadow; a
    draft that fails is logged and skipped, the live run already recorded."""
    recorded = {}
    for draft in shadow_drafts():
        try:
            with transaction.atomic():  # a failing draft rolls back alone
                recorded[draft.pk] = shadow_evaluate(
                    rule_set=draft, account_ids=account_ids, now=now, cause=cause
                )
        except Exception:  # a draft under trial must never stop the live rules' run
            logger.exception("shadow evaluation of rule set %s failed", draft.pk)
    return recorded


def shadow_evaluate(
    *, rule_set: RuleSet, account_ids: Sequence[int] | None, now: datetime, cause: str = ""
) -> int:
    """Decide one draft for these accounts and record its would-be transitions."""
    # the engine calls this module after its live run
    from .engine import Change, decide_row, status_change_values

    _statuses_seed(rule_set)
    query = ShadowQuery(Rulebook(timezone.localdate(now), rule_set), now)
    changes = []
    for row in query.rows(account_ids, changed_only=True):
        decision = decide_row(query=query, row=row)
        if decision.status != row.old_status:
            change = Change(row.account_id, row.old_status, row.funnel, decision)
            values = status_change_values(change, now=now, cause=cause[:200])
            changes.append(ShadowTransition(rule_set_id=rule_set.pk, **values))
    return _record(rule_set, changes)


def _statuses_seed(rule_set: RuleSet) -> None:
    """The first run of a draft in shadow: start from the live statuses (under a lock on
    the draft, so two first runs seed once)."""
    if ShadowStatus.objects.filter(rule_set=rule_set).exists():
        return
    with transaction.atomic():
        RuleSet.objects.select_for_update().filter(pk=rule_set.pk).first()
        if ShadowStatus.objects.filter(rule_set=rule_set).exists():
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SHADOW_STATUSES} (rule_set_id, account_id, status) "
                f"SELECT %s, a.id, a.mqa_status FROM {ACCOUNTS} a",
                [rule_set.pk],
            )


def _record(rule_set: RuleSet, changes: list[ShadowTransition]) -> int:
    """Write the changes still starting from the status we compared with: a recompute
    racing on the same accounts waits for the lock on the draft, then finds them moved."""
    if not changes:
        return 0
    with transaction.atomic():
        RuleSet.objects.select_for_update().filter(pk=rule_set.pk).first()
        current = dict(
            ShadowStatus.objects.filter(
                rule_set=rule_set, account_id__in=[c.account_id for c in changes]
            ).values_list("account_id", "status")
        )
        kept = [c for c in changes if current.get(c.account_id, UNSEEN) == c.from_status]
        ShadowTransition.objects.bulk_create(kept, batch_size=1000)
        ShadowStatus.objects.bulk_create(
            [
                ShadowStatus(rule_set_id=rule_set.pk, account_id=c.account_id, status=c.to_status)
                for c in kept
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["rule_set", "account"],
            update_fields=["status"],
        )
    if kept:
        logger.info("recorded %d shadow transition(s) for rule set %s", len(kept), rule_set.pk)
    return len(kept)


def shadow_reset(*, rule_set: RuleSet) -> int:
    """Forget a set's shadow statuses (its recorded transitions stay, for the scorecard):
    promoted, or put back in shadow later, it starts again from the live statuses."""
    deleted, _ = ShadowStatus.objects.filter(rule_set=rule_set).delete()
    return deleted
