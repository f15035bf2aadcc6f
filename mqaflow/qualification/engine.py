"""Where MQAs are decided.

`accounts_evaluate` compiles the rules in force into one SQL statement (`sql.DecisionQuery`)
that measures and decides every account (or the given ones) and returns only those whose
status changes. Only for those does Python build the `Decision` (figures and the sentence
that explains it), with the same rule logic that `decide` applies to ORM measurements.

The changes are then written in one transaction: the rows still in the status we saw are
locked in id order and updated, each change gets an `MQATransition` row and one signal, so
two recomputes racing on the same account record it once. On PostgreSQL the writes are
set-based (a temporary table filled by COPY, then one UPDATE and two INSERT … SELECT);
elsewhere (SQLite, the demo) they go through the ORM. Each run leaves a `RecomputeRun` row.
Then every draft in shadow decides the same accounts and records its would-be transitions
only (`shadow.py`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from mqaflow.models import (
    Account,
    ActNowRule,
    MQAClause,
    MQARule,
    MQAStatus,
    MQATransition,
    RuleSet,
)
from mqaflow.models.columns import column_of
from mqaflow.models.rulesets import rule_set_still_live
from mqaflow.models.transitions import RecomputeRun
from mqaflow.signals import account_disqualified, account_qualified, accounts_qualified

from . import explain
from .measure import Figures, Scope, measure_act_now, measure_scopes
from .rulebook import Rulebook, act_now_scope, clause_scope
from .shadow import shadows_evaluate
from .sql import ACCOUNTS, DecisionQuery, Row
from .writes import accounts_write_state

logger = logging.getLogger(__name__)

# How many account ids one reference (`decide`) query takes at most.
CHUNK_SIZE = 5000
# Run records older than this are deleted by the next full recompute.
RUN_RETENTION = timedelta(days=30)


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

    def get_status_display(self) -> str:
        return MQAStatus(self.status).label


@dataclass
class EvaluationResult:
    evaluated: int = 0
    transitions: Sequence[MQATransition] = field(default_factory=list)
    would_change: list[tuple[Account, Decision]] = field(default_factory=list)
    # What listeners of the qualification signals did, as they counted it ({"plays": 3}).
    consequences: Counter = field(default_factory=Counter)

    def by_funnel(self) -> Counter:
        """(funnel, from → to) counts, for command summaries."""
        if self.transitions:
            return Counter((t.funnel, f"{t.from_status} → {t.to_status}") for t in self.transitions)
        return Counter((a.funnel, f"{a.mqa_status} → {d.status}") for a, d in self.would_change)


class Transitions(Sequence[MQATransition]):
    """The transitions a run recorded, built as objects only when somebody reads them.

    A fresh load records tens of thousands at once; a scheduled run's caller usually only
    counts them.
    """

    def __init__(self, count: int, build: Callable[[], list[MQATransition]]) -> None:
        self._count = count
        self._build = build
        self._items: list[MQATransition] | None = None

    def _all(self) -> list[MQATransition]:
        if self._items is None:
            self._items = self._build()
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return f"<Transitions: {self._count}>"


@dataclass
class Change:
    """An account whose decided status differs from the stored one."""

    account_id: int
    old_status: str
    funnel: int
    decision: Decision


def accounts_evaluate(
    *,
    account_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    cause: str = "",
) -> EvaluationResult:
    """Evaluate the given accounts (all when None) and record every status change.

    `cause` says why the run happened ("ingest", "schedule", "rule change by …"); it is
    stored on every transition and on the run record.
    """
    started = timezone.now()
    now = now or started
    ids = sorted(set(account_ids)) if account_ids is not None else None
    result = EvaluationResult()
    if ids is None:
        result.evaluated = Account.objects.count()
    elif ids:
        result.evaluated = Account.objects.filter(pk__in=ids).count()
    for attempt in range(2):  # once more if a promotion retired the set decided under
        rule_set = RuleSet.objects.live()
        changes = _changes_for(ids, now=now, rule_set=rule_set) if ids != [] else []
        if progress and attempt == 0:
            progress(result.evaluated)
        if dry_run:
            accounts = Account.objects.in_bulk([c.account_id for c in changes])
            result.would_change = [
                (accounts[c.account_id], c.decision) for c in changes if c.account_id in accounts
            ]
            return result
        try:
            result.transitions, result.consequences = _record(
                changes, now=now, cause=cause, rule_set_id=rule_set.pk
            )
            break
        except SetPromotedMeanwhile:
            logger.info("a rule set was promoted meanwhile: deciding again under it")
    if ids != []:  # the drafts in shadow decide the same accounts at the same moment
        shadows_evaluate(account_ids=ids, now=now, cause=cause)
    RecomputeRun.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        evaluated_for=now,
        scope=RecomputeRun.Scope.ALL if ids is None else RecomputeRun.Scope.ACCOUNTS,
        accounts=result.evaluated,
        transitions=len(result.transitions),
        cause=cause[:200],
    )
    if ids is None:  # every 15 minutes at most: keep the run log bounded
        RecomputeRun.objects.filter(started_at__lt=started - RUN_RETENTION).delete()
    return result


def _changes_for(
    account_ids: list[int] | None, *, now: datetime, rule_set: RuleSet | None = None
) -> list[Change]:
    """The accounts whose status the rules change now, each with its full `Decision`."""
    rulebook = Rulebook(timezone.localdate(now), rule_set)
    query = DecisionQuery(rulebook, now)
    changes = []
    for row in query.rows(account_ids, changed_only=True):
        decision = decide_row(query=query, row=row)
        if decision.status != row.status:  # the SQL and the Python rule logic disagree
            logger.error(
                "account %s: SQL decided %s, the rules say %s; keeping the rules' decision",
                row.account_id,
                row.status,
                decision.status,
            )
        if decision.status != row.old_status:
            changes.append(Change(row.account_id, row.old_status, row.funnel, decision))
    return changes


def decide_row(*, query: DecisionQuery, row: Row) -> Decision:
    """The `Decision` for one row of the statement, by the Python rule logic."""
    rulebook = query.rulebook
    return _decide_one(
        row.account_id,
        funnel=row.funnel,
        employees=row.employees,
        excluded=row.excluded,
        excluded_reason=row.excluded_reason,
        rulebook=rulebook,
        figures_for=lambda scope: query.figures(row, scope),
        act_now_for=lambda rule: query.act_now(row, rule),
    )


def decide(*, accounts: list[Account], rulebook: Rulebook, now: datetime) -> dict[int, Decision]:
    """The reference evaluation: ORM measurements per chunk, then the Python rule logic.

    Not the production path (`_changes_for` is); kept as the plain definition the SQL
    decisions are tested against.
    """
    decisions: dict[int, Decision] = {}
    for start in range(0, len(accounts), CHUNK_SIZE):
        chunk = accounts[start : start + CHUNK_SIZE]
        ids = [a.pk for a in chunk]
        measured = measure_scopes(rulebook.scopes(), ids, now)
        act_now = measure_act_now(
            {rule.pk: act_now_scope(rule) for rule in rulebook.act_now_rules}, ids, now
        )
        for account in chunk:
            decisions[account.pk] = _decide_one(
                account.pk,
                funnel=account.funnel,
                employees=account.employees,
                excluded=account.excluded,
                excluded_reason=account.excluded_reason,
                rulebook=rulebook,
                figures_for=partial(_measured_figures, measured, account.pk),
                act_now_for=partial(_measured_act_now, act_now, account.pk),
            )
    return decisions


def _measured_figures(
    measured: dict[Scope, dict[int, Figures]], account_id: int, scope: Scope
) -> Figures:
    return measured[scope].get(account_id) or Figures(window_days=scope.window_days)


def _measured_act_now(
    found: dict[int, dict[int, tuple[int, int, datetime]]], account_id: int, rule: ActNowRule
) -> tuple[int, int, datetime] | None:
    return found[rule.pk].get(account_id)


def _decide_one(
    account_id: int,
    *,
    funnel: int,
    employees: int,
    excluded: bool,
    excluded_reason: str,
    rulebook: Rulebook,
    figures_for: Callable[[Scope], Figures],
    act_now_for: Callable[[ActNowRule], tuple | None],
) -> Decision:
    band = rulebook.band_for(employees)
    band_slug = band.slug if band else ""
    if excluded:
        why = explain.excluded(excluded_reason)
        return Decision(account_id, MQAStatus.EXCLUDED, why, band_slug)
    decision = _act_now(account_id, rulebook, act_now_for) or _by_rule(
        account_id, funnel, band, rulebook, figures_for
    )
    decision.size_band = band_slug
    return decision


def _act_now(account_id: int, rulebook: Rulebook, act_now_for) -> Decision | None:
    for rule in rulebook.act_now_rules:
        found = act_now_for(rule)
        if not found:
            continue
        people, anonymous, latest = found
        # An anonymous event is somebody, but cannot prove a seniority or a second person.
        anonymous_counts = rule.min_people == 1 and not rule.min_seniority and anonymous > 0
        if people >= rule.min_people or anonymous_counts:
            return Decision(
                account_id,
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


def _by_rule(account_id: int, funnel: int, band, rulebook: Rulebook, figures_for) -> Decision:
    rule = rulebook.rule_for(funnel, band)
    if rule is None:
        return Decision(
            account_id, MQAStatus.NOT_QUALIFIED, explain.not_qualified(None, [], rulebook.bandwidth)
        )
    checks = []
    for clause in rule.clauses.all():
        figures = figures_for(clause_scope(clause))
        check = rulebook.check(clause)
        if not check.missing(figures):
            return Decision(
                account_id,
                MQAStatus.MQA,
                explain.qualified_by_clause(rule, check, figures, rulebook.bandwidth),
                rule=rule,
                clause=clause,
                figures={**figures.as_dict(), "bandwidth_factor": float(rulebook.bandwidth.factor)},
            )
        checks.append((check, figures))
    best = checks[0][1].as_dict() if checks else {}
    return Decision(
        account_id,
        MQAStatus.NOT_QUALIFIED,
        explain.not_qualified(rule, checks, rulebook.bandwidth),
        rule=rule,
        figures=best,
    )


# -- writing ----------------------------------------------------------------------------


class SetPromotedMeanwhile(Exception):
    """The rule set a run decided under was retired before the run could write."""


def _record(
    changes: list[Change], *, now: datetime, cause: str = "", rule_set_id: int | None = None
) -> tuple[Sequence[MQATransition], Counter]:
    """Lock the changed rows, re-check their status and write each transition once.

    Decided under `rule_set_id`: if another set was promoted while this run decided, its
    decisions are dropped (SetPromotedMeanwhile) and the caller decides again.
    """
    if not changes:
        return [], Counter()
    recorded: Sequence[MQATransition]
    with transaction.atomic():
        if rule_set_id is not None and not rule_set_still_live(rule_set_id):
            raise SetPromotedMeanwhile(rule_set_id)
        if connection.vendor == "postgresql":
            recorded = _write_set_based(changes, now=now, cause=cause)
        else:
            recorded = _write_orm(changes, now=now, cause=cause)
        consequences = _send_signals(recorded)
    if recorded:
        logger.info("recorded %d MQA transition(s)", len(recorded))
    return recorded, consequences


def status_change_values(change: Change, *, now: datetime, cause: str) -> dict[str, Any]:
    """A status change's fields by attname (what `StatusChange` holds), for a live
    transition or a shadow one."""
    d = change.decision
    return {
        "account_id": change.account_id,
        "from_status": change.old_status,
        "to_status": d.status,
        "at": now,
        "rule_id": d.rule.pk if d.rule else None,
        "clause_id": d.clause.pk if d.clause else None,
        "act_now_rule_id": d.act_now_rule.pk if d.act_now_rule else None,
        "funnel": change.funnel,
        "size_band": d.size_band,
        "figures": d.figures,
        "explanation": d.explanation,
        "cause": cause,
    }


def _transition(change: Change, *, now: datetime, cause: str, pk=None) -> MQATransition:
    d = change.decision
    values = {"id": pk, **status_change_values(change, now=now, cause=cause)}
    # Positional construction (as Django does loading rows) is several times cheaper than
    # keyword arguments, which counts when a fresh load qualifies 60,000 accounts at once.
    transition = MQATransition(*[values[name] for name in _TRANSITION_ATTNAMES])
    transition._state.fields_cache.update(
        (name, obj)
        for name, obj in (("rule", d.rule), ("clause", d.clause), ("act_now_rule", d.act_now_rule))
        if obj is not None
    )
    if pk is not None:
        transition._state.adding = False
        transition._state.db = connection.alias
    return transition


_TRANSITION_ATTNAMES = [f.attname for f in MQATransition._meta.concrete_fields]


def _send_signals(recorded: Sequence[MQATransition]) -> Counter:
    """Tell the listeners; a listener of `accounts_qualified` may answer with counts of what
    it did ({"plays": n}), which a promotion preview shows."""
    consequences: Counter = Counter()
    if accounts_qualified.has_listeners(MQATransition):
        qualified = [t for t in recorded if t.to_status == MQAStatus.MQA]
        if qualified:
            answers = accounts_qualified.send(sender=MQATransition, transitions=qualified)
            for _, answer in answers:
                if isinstance(answer, dict):
                    consequences.update(answer)
    listened = account_qualified.has_listeners(MQATransition) or account_disqualified.has_listeners(
        MQATransition
    )
    if not listened:  # do not build 60,000 transition objects to tell nobody
        return consequences
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
    return consequences


def _explain_with(account: Account, d: Decision) -> None:
    """Put what decided the account on it: rule, clause or Act Now rule, figures, sentence."""
    account.mqa_rule = d.rule
    account.mqa_clause = d.clause
    account.mqa_act_now_rule = d.act_now_rule
    account.mqa_figures = d.figures
    account.mqa_explanation = d.explanation


def _write_orm(changes: list[Change], *, now: datetime, cause: str) -> list[MQATransition]:
    seen = {c.account_id: c for c in changes}
    # Lock in pk order so two recomputes never deadlock; a row another recompute
    # changed meanwhile no longer has the status we saw and is left to it.
    locked = list(Account.objects.select_for_update().filter(pk__in=seen).order_by("pk"))
    to_update, recorded = [], []
    for account in locked:
        change = seen[account.pk]
        if account.mqa_status != change.old_status:
            continue
        d = change.decision
        account.mqa_status = d.status
        account.qualified_at = now if d.status == MQAStatus.MQA else None
        _explain_with(account, d)
        to_update.append(account)
        recorded.append(_transition(change, now=now, cause=cause))
    if not to_update:
        return []
    accounts_write_state(accounts=to_update)
    return MQATransition.objects.bulk_create(recorded, batch_size=1000)


_TEMP = "mqa_change"
_TEMP_SQL = f"""
CREATE TEMPORARY TABLE {_TEMP} (
    account_id bigint PRIMARY KEY, from_status varchar(20), to_status varchar(20),
    rule_id bigint, clause_id bigint, act_now_rule_id bigint, funnel smallint,
    size_band varchar(50), figures jsonb, explanation text
) ON COMMIT DROP
"""


def _write_set_based(
    changes: list[Change], *, now: datetime, cause: str
) -> Sequence[MQATransition]:
    """PostgreSQL: COPY the changes into a temporary table and write them in three statements."""
    transitions = MQATransition._meta.db_table
    history = Account.history.model
    tracked = [f for f in history.tracked_fields]
    source_cols = ", ".join(f"a.{column_of(Account, f.name)}" for f in tracked)
    history_cols = ", ".join(history._meta.get_field(f.name).column for f in tracked)
    with connection.cursor() as cursor:
        cursor.execute(_TEMP_SQL)
        with cursor.cursor.copy(f"COPY {_TEMP} FROM STDIN") as copy:
            for c in changes:
                d = c.decision
                copy.write_row(
                    (
                        c.account_id,
                        c.old_status,
                        d.status,
                        d.rule.pk if d.rule else None,
                        d.clause.pk if d.clause else None,
                        d.act_now_rule.pk if d.act_now_rule else None,
                        c.funnel,
                        d.size_band,
                        json.dumps(d.figures),
                        d.explanation,
                    )
                )
        # Lock in id order so two recomputes never deadlock; a row another recompute
        # changed meanwhile no longer has the status we saw (re-checked after the wait).
        cursor.execute(
            f"SELECT a.id FROM {ACCOUNTS} a JOIN {_TEMP} t ON t.account_id = a.id "
            f"WHERE a.mqa_status = t.from_status ORDER BY a.id FOR UPDATE OF a"
        )
        locked = [r[0] for r in cursor.fetchall()]
        if not locked:
            cursor.execute(f"DROP TABLE {_TEMP}")
            return []
        if len(locked) < len(changes):
            cursor.execute(f"DELETE FROM {_TEMP} WHERE NOT (account_id = ANY(%s))", [locked])
        # One statement updates the accounts and writes their history rows from the
        # updated values (RETURNING), the next one the transitions.
        cursor.execute(
            f"WITH updated AS (UPDATE {ACCOUNTS} a SET mqa_status = t.to_status, "
            f"qualified_at = CASE WHEN t.to_status = %s THEN %s::timestamptz END, "
            f"mqa_rule_id = t.rule_id, mqa_clause_id = t.clause_id, "
            f"mqa_act_now_rule_id = t.act_now_rule_id, mqa_figures = t.figures, "
            f"mqa_explanation = t.explanation FROM {_TEMP} t WHERE a.id = t.account_id "
            f"RETURNING {source_cols}) "
            f"INSERT INTO {history._meta.db_table} ({history_cols}, history_date, "
            f"history_change_reason, history_type, history_user_id) "
            f"SELECT {source_cols}, %s, '', '~', NULL FROM updated a ORDER BY a.id",
            [MQAStatus.MQA, now, timezone.now()],
        )
        cursor.execute(
            f"INSERT INTO {transitions} (account_id, from_status, to_status, at, rule_id, "
            f"clause_id, act_now_rule_id, funnel, size_band, figures, explanation, cause) "
            f"SELECT account_id, from_status, to_status, %s, rule_id, clause_id, "
            f"act_now_rule_id, funnel, size_band, figures, explanation, %s FROM {_TEMP} "
            f"ORDER BY account_id RETURNING id, account_id",
            [now, cause],
        )
        ids = dict((account_id, pk) for pk, account_id in cursor.fetchall())
        # ON COMMIT DROP does not fire when the caller's transaction goes on (nested atomic).
        cursor.execute(f"DROP TABLE {_TEMP}")
    kept = [c for c in sorted(changes, key=lambda c: c.account_id) if c.account_id in ids]
    return Transitions(
        len(kept),
        lambda: [_transition(c, now=now, cause=cause, pk=ids[c.account_id]) for c in kept],
    )


def account_explain(*, account: Account, now: datetime | None = None) -> Decision:
    """What the engine would decide for one account right now, without writing anything.

    The stored explanation is the one of the last transition; this answers "why is it not
    an MQA yet?" for an account whose status has not changed.
    """
    now = now or timezone.now()
    query = DecisionQuery(Rulebook(timezone.localdate(now)), now)
    for row in list(query.rows([account.pk], changed_only=False)):
        return decide_row(query=query, row=row)
    raise Account.DoesNotExist(f"account {account.pk} no longer exists")


def accounts_restate(*, account_ids: Sequence[int], now: datetime) -> int:
    """Re-explain MQAs that stay MQAs under the live set: their rule, clause, figures and
    sentence become the live set's, their status and qualification time stay, and no
    transition is written (nothing changed for sales). A promotion calls it for the accounts
    still qualified by the retired set's rules. Returns how many accounts were restated."""
    if not account_ids:
        return 0
    query = DecisionQuery(Rulebook(timezone.localdate(now)), now)
    decisions = {
        row.account_id: decide_row(query=query, row=row)
        for row in query.rows(list(account_ids), changed_only=False)
        if row.old_status == MQAStatus.MQA
    }
    locked = Account.objects.select_for_update().filter(pk__in=decisions).order_by("pk")
    restated = []
    for account in locked:
        d = decisions[account.pk]
        if account.mqa_status != MQAStatus.MQA or d.status != MQAStatus.MQA:
            continue  # changed meanwhile, or no longer qualified: the engine's business
        _explain_with(account, d)
        restated.append(account)
    accounts_write_state(accounts=restated)
    return len(restated)
