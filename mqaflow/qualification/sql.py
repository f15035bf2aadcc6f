"""The rules in force compiled into one SQL statement that measures and decides every account.

`DecisionQuery` reads a `Rulebook` (the rule tables, loaded once) and writes a single
`SELECT` that

- measures each scope family (clauses sharing persona and seniority filters) in one pass
  over the events of its widest window: first per (account, contact), then per account,
  which yields minutes, events, distinct people, distinct personas, the top seniority and
  the per-contact qualified leads of every window in the family without `COUNT(DISTINCT …)`;
- measures every Act Now rule in one more pass over the few events of those activities;
- decides in SQL, from CASE expressions generated from the rule rows: exclusion first, then
  the first Act Now rule that fires (in id order), then the most specific rule for the
  account's funnel and size band and the first of its clauses (OR) whose thresholds (AND,
  scaled by the bandwidth factor) are all met;
- returns only the accounts whose decided status differs from the stored one (or every
  requested account, for an explanation), with the figures Python needs to build the
  `Decision` and its sentence for those rows alone.

The Python rule logic (`engine.decide`, `rulebook.ClauseCheck`) stays the definition: the
engine rebuilds each returned row's `Decision` with it, and a property test checks that the
SQL decides like it on generated rule and event sets. The statement runs on PostgreSQL and
SQLite alike (no `FILTER`, no `COUNT(DISTINCT)` in the hot path, no arrays on SQLite).

The backtest's replay (`backtest.py`) measures every day of a period its own way but
filters, credits and decides with this class's parts (`family_filter`, `act_now_filter`,
`minutes_sql`, `band_sql`, `act_now_pick`, `rule_pick`, `clause_pick`, `status_sql`), so
both decide alike by construction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from mqaflow.models import (
    SENIORITY_RANK,
    Account,
    Contact,
    EngagementEvent,
    MQAStatus,
    Persona,
    Seniority,
)

from .measure import ANONYMOUS_RANK, Figures, Scope
from .rulebook import Bandwidth, ClauseCheck, Rulebook, act_now_scope, clause_scope

EVENTS = EngagementEvent._meta.db_table
CONTACTS = Contact._meta.db_table
ACCOUNTS = Account._meta.db_table
RANKS = list(SENIORITY_RANK)

# For the statement's transaction only. JIT compiling the generated CASE expressions costs
# more (seconds) than it saves on a one-pass aggregate; the per-contact grouping of a full
# recompute (~300,000 groups) fits a hash table in 64 MB instead of spilling a sort to disk.
SESSION_SETTINGS = ["SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'"]
# Up to this many accounts the rows are fetched at once rather than through a cursor (which
# costs round trips), and without parallel workers (starting one costs more than the work).
SMALL_RUN = 1000
SMALL_RUN_SETTINGS = ["SET LOCAL max_parallel_workers_per_gather = 0"]


def _str(value: object) -> str:
    """A SQL string literal (standard quoting, valid on PostgreSQL and SQLite)."""
    return "'" + str(value).replace("'", "''") + "'"


def _dec(value: Decimal | int) -> str:
    """A numeric literal from a rule table value (never text: SQLite compares text > numbers)."""
    return f"{Decimal(value):f}"


@dataclass
class Family:
    """Clause scopes that differ only by window: measured together in one pass."""

    index: int
    personas: tuple[str, ...]
    min_seniority: str
    windows: list[int] = field(default_factory=list)
    # window → sorted per-contact minute thresholds of the qualified-lead tests on it
    leads: dict[int, list[Decimal]] = field(default_factory=dict)

    def col(self, kind: str, window: int, lead: int | None = None) -> str:
        suffix = f"_{lead}" if lead is not None else ""
        return f"f{self.index}_{kind}{window}{suffix}"


@dataclass
class Row:
    """One account as the statement returns it."""

    account_id: int
    old_status: str
    funnel: int
    employees: int
    excluded: bool
    excluded_reason: str
    status: str
    rule_id: int | None
    clause_id: int | None
    act_now_rule_id: int | None
    values: dict[str, Any]  # figure column → value, as the database driver returns it


class DecisionQuery:
    """The statement for one rulebook and one `now` (see the module docstring)."""

    def __init__(self, rulebook: Rulebook, now: datetime) -> None:
        self.rulebook = rulebook
        self.now = now
        self.sqlite = connection.vendor == "sqlite"
        self.families: dict[tuple, Family] = {}
        self.scope_family: dict[Scope, Family] = {}
        self._scope_columns: dict[Scope, tuple] = {}
        for rule in rulebook.rules:
            for clause in rule.clauses.all():
                scope = clause_scope(clause)
                family = self.families.get((scope.personas, scope.min_seniority))
                if family is None:
                    family = Family(len(self.families), scope.personas, scope.min_seniority)
                    self.families[(scope.personas, scope.min_seniority)] = family
                if scope.window_days not in family.windows:
                    family.windows.append(scope.window_days)
                leads = family.leads.setdefault(scope.window_days, [])
                lead = clause.lead_minutes
                needs_leads = clause.min_qualified_leads is not None
                if needs_leads and lead is not None and lead not in leads:
                    leads.append(lead)
                self.scope_family[scope] = family
        for family in self.families.values():
            family.windows.sort()
            for window in family.windows:
                family.leads[window].sort()

    # -- literals -------------------------------------------------------------------------

    def at_sql(self, value: datetime) -> str:
        """A moment as a SQL literal of this database."""
        if self.sqlite:
            return _str(connection.ops.adapt_datetimefield_value(value))
        return f"{_str(value.isoformat())}::timestamptz"

    def _since(self, days: int) -> str:
        return self.at_sql(self.now - timedelta(days=days))

    def _sum(self, expression: str) -> str:
        # SQLite sums decimals as floats: round back to the column's two places.
        return f"ROUND(SUM({expression}), 2)" if self.sqlite else f"SUM({expression})"

    def _ids_filter(self, column: str, account_ids: Sequence[int] | None, params: list) -> str:
        if account_ids is None:
            return ""
        if self.sqlite:
            params.append(json.dumps(list(account_ids)))
            return f" AND {column} IN (SELECT value FROM json_each(%s))"
        params.append(list(account_ids))
        return f" AND {column} = ANY(%s::bigint[])"

    def minutes_sql(self) -> str:
        """An event's credited minutes under the rule set's weights: as stored at ingest,
        except for the credited (not source-given) events whose activity or seniority weight
        differs from the live one, measured as activity minutes × seniority multiplier the
        way ingest credits them."""
        weights = self.rulebook.weights
        if weights.stored:
            return "e.minutes"
        activity = " ".join(
            f"WHEN {int(pk)} THEN {_dec(m)}" for pk, m in sorted(weights.activity.items())
        )
        seniority = " ".join(
            f"WHEN {_str(s)} THEN {_dec(m)}" for s, m in sorted(weights.seniority.items())
        )
        multiplier = f"CASE c.seniority {seniority} ELSE 1 END" if seniority else "1"
        changed = []
        if weights.changed_activities:
            ids = ", ".join(str(int(pk)) for pk in sorted(weights.changed_activities))
            changed.append(f"e.activity_id IN ({ids})")
        if weights.changed_seniorities:
            levels = ", ".join(_str(s) for s in sorted(weights.changed_seniorities))
            changed.append(f"c.seniority IN ({levels})")
        measured = f"ROUND((CASE e.activity_id {activity} ELSE 0 END) * ({multiplier}), 2)"
        credited = f"NOT e.minutes_explicit AND ({' OR '.join(changed)})"
        return f"(CASE WHEN {credited} THEN {measured} ELSE e.minutes END)"

    def rank_sql(self) -> str:
        """A contact's seniority rank (0 = most senior; anonymous ranks below everyone)."""
        whens = " ".join(f"WHEN {_str(v)} THEN {rank}" for v, rank in SENIORITY_RANK.items())
        return f"CASE c.seniority {whens} ELSE {ANONYMOUS_RANK} END"

    # -- measuring ------------------------------------------------------------------------

    def family_filter(self, family: Family) -> str:
        """Which events a family counts (its persona and seniority filters), as ` AND …`
        over events `e` left-joined to contacts `c`; shared with the backtest's replay."""
        where = ""
        if family.personas:
            where += f" AND c.persona IN ({', '.join(_str(p) for p in family.personas)})"
        if family.min_seniority:
            levels = Seniority.at_or_above(family.min_seniority)
            where += f" AND c.seniority IN ({', '.join(_str(s) for s in levels)})"
        return where

    def _family_sql(self, family: Family, ids: Sequence[int] | None, params: list) -> str:
        widest = max(family.windows)
        minutes = self.minutes_sql()
        per_contact = []
        for w in family.windows:
            inside = f"e.occurred_at >= {self._since(w)}"
            per_contact.append(f"SUM(CASE WHEN {inside} THEN {minutes} END) AS m{w}")
            per_contact.append(f"COUNT(CASE WHEN {inside} THEN 1 END) AS n{w}")
        where = (
            f"e.occurred_at >= {self._since(widest)} AND e.occurred_at <= {self.at_sql(self.now)}"
        )
        where += self.family_filter(family)
        where += self._ids_filter("e.account_id", ids, params)
        per_account = []
        for w in family.windows:
            got = f"n{w} > 0"
            per_account += [
                f"{self._sum(f'm{w}')} AS {family.col('m', w)}",
                f"SUM(n{w}) AS {family.col('e', w)}",
                f"COUNT(CASE WHEN contact_id IS NOT NULL AND {got} THEN 1 END)"
                f" AS {family.col('p', w)}",
                "("
                + " + ".join(
                    f"MAX(CASE WHEN persona = {_str(p)} AND {got} THEN 1 ELSE 0 END)"
                    for p in Persona.values
                )
                + f") AS {family.col('r', w)}",
                f"MIN(CASE WHEN {got} THEN rnk END) AS {family.col('s', w)}",
            ]
            for i, threshold in enumerate(family.leads[w]):
                lead_sum = f"ROUND(m{w}, 2)" if self.sqlite else f"m{w}"
                per_account.append(
                    f"COUNT(CASE WHEN contact_id IS NOT NULL AND {got} AND {lead_sum} >= "
                    f"{_dec(threshold)} THEN 1 END) AS {family.col('l', w, i)}"
                )
        return (
            f"f{family.index}c AS (SELECT e.account_id AS account_id, e.contact_id AS contact_id, "
            f"MIN(c.persona) AS persona, MIN({self.rank_sql()}) AS rnk, {', '.join(per_contact)} "
            f"FROM {EVENTS} e LEFT JOIN {CONTACTS} c ON c.id = e.contact_id "
            f"WHERE {where} GROUP BY e.account_id, e.contact_id), "
            f"f{family.index} AS (SELECT account_id, {', '.join(per_account)} "
            f"FROM f{family.index}c GROUP BY account_id)"
        )

    def act_now_filter(self, rule) -> str:
        """Which events an Act Now rule counts, whatever the window (its activity and the
        seniority it needs); shared with the backtest's replay."""
        scope = act_now_scope(rule)
        cond = f"e.activity_id = {int(rule.activity_id)}"
        if scope.min_seniority:
            levels = Seniority.at_or_above(scope.min_seniority)
            cond += f" AND c.seniority IN ({', '.join(_str(s) for s in levels)})"
        return cond

    def _act_now_condition(self, rule) -> str:
        window = f"e.occurred_at >= {self._since(act_now_scope(rule).window_days)}"
        return f"{self.act_now_filter(rule)} AND {window}"

    def _act_now_sql(self, ids: Sequence[int] | None, params: list) -> str:
        rules = self.rulebook.act_now_rules
        widest = max(rule.window_days for rule in rules)
        columns = []
        for rule in rules:
            cond = self._act_now_condition(rule)
            columns += [
                f"COUNT(DISTINCT CASE WHEN {cond} THEN e.contact_id END) AS an{rule.pk}_p",
                f"COUNT(CASE WHEN {cond} AND e.contact_id IS NULL THEN 1 END) AS an{rule.pk}_a",
                f"MAX(CASE WHEN {cond} THEN e.occurred_at END) AS an{rule.pk}_l",
            ]
        activities = ", ".join(str(int(a)) for a in sorted({r.activity_id for r in rules}))
        where = (
            f"e.activity_id IN ({activities}) AND e.occurred_at >= {self._since(widest)} "
            f"AND e.occurred_at <= {self.at_sql(self.now)}"
        )
        where += self._ids_filter("e.account_id", ids, params)
        return (
            f"an AS (SELECT e.account_id AS account_id, {', '.join(columns)} "
            f"FROM {EVENTS} e LEFT JOIN {CONTACTS} c ON c.id = e.contact_id "
            f"WHERE {where} GROUP BY e.account_id)"
        )

    # -- deciding -------------------------------------------------------------------------

    def band_sql(self) -> str:
        """The account's size band id (`a.employees`)."""
        whens = []
        for band in self.rulebook.bands:
            test = f"a.employees >= {int(band.min_employees)}"
            if band.max_employees is not None:
                test += f" AND a.employees < {int(band.max_employees)}"
            whens.append(f"WHEN {test} THEN {int(band.pk)}")
        return f"CASE {' '.join(whens)} END" if whens else "NULL"

    def act_now_pick(self) -> str:
        """The first Act Now rule that fires, from the `an.an<pk>_p` / `_a` figures."""
        whens = []
        for rule in self.rulebook.act_now_rules:
            fires = f"an.an{rule.pk}_p >= {int(rule.min_people)}"
            # An anonymous event is somebody, but cannot prove a seniority or a second person.
            if rule.min_people == 1 and not rule.min_seniority:
                fires = f"({fires} OR an.an{rule.pk}_a > 0)"
            whens.append(f"WHEN {fires} THEN {int(rule.pk)}")
        return f"CASE {' '.join(whens)} END" if whens else "NULL"

    def rule_pick(self) -> str:
        """The most specific rule for `funnel` and `band_id`."""
        whens = []
        for rule in self.rulebook.rules:  # most specific first, as Rulebook.rule_for
            tests = []
            if rule.funnel is not None:
                tests.append(f"funnel = {int(rule.funnel)}")
            if rule.size_band_id is not None:
                tests.append(f"band_id = {int(rule.size_band_id)}")
            whens.append(f"WHEN {' AND '.join(tests) or '1 = 1'} THEN {int(rule.pk)}")
        return f"CASE {' '.join(whens)} END" if whens else "NULL"

    def _clause_test(self, clause, bandwidth: Bandwidth, cents: bool) -> str:
        family = self.scope_family[clause_scope(clause)]
        w = clause.window_days
        tests = []
        check = ClauseCheck(clause, bandwidth)
        for kind, needed in check.thresholds().items():
            if kind == "leads":
                i = family.leads[w].index(clause.lead_minutes)
                tests.append(f"COALESCE({family.col('l', w, i)}, 0) >= {int(needed)}")
            else:
                letter = {"minutes": "m", "people": "p", "personas": "r", "events": "e"}[kind]
                value = int(needed * 100) if cents and kind == "minutes" else _dec(needed)
                tests.append(f"COALESCE({family.col(letter, w)}, 0) >= {value}")
        if check.seniority:
            tests.append(f"{family.col('s', w)} <= {SENIORITY_RANK[check.seniority]}")
        return " AND ".join(tests) or "1 = 1"

    def clause_pick(self, bandwidth: Bandwidth | None = None, *, cents: bool = False) -> str:
        """The first clause of `rule_id` whose thresholds, scaled by `bandwidth` (the
        rulebook's unless given: the backtest decides days of several), all hold; with
        `cents`, the minutes columns hold hundredths of a minute as integers (the backtest
        sums millions of them)."""
        bandwidth = bandwidth if bandwidth is not None else self.rulebook.bandwidth
        whens = []
        for rule in self.rulebook.rules:
            for clause in rule.clauses.all():
                test = self._clause_test(clause, bandwidth, cents)
                whens.append(f"WHEN rule_id = {int(rule.pk)} AND {test} THEN {int(clause.pk)}")
        return f"CASE {' '.join(whens)} END" if whens else "NULL"

    @staticmethod
    def status_sql() -> str:
        """The decided status from `excluded`, `act_now_id` and `clause_id`: exclusion
        first, then Act Now, then the clause."""
        return (
            f"CASE WHEN excluded THEN {_str(MQAStatus.EXCLUDED)} "
            f"WHEN act_now_id IS NOT NULL OR clause_id IS NOT NULL THEN {_str(MQAStatus.MQA)} "
            f"ELSE {_str(MQAStatus.NOT_QUALIFIED)} END"
        )

    def _figure_columns(self) -> list[str]:
        columns = []
        for family in self.families.values():
            for w in family.windows:
                columns += [family.col(k, w) for k in "meprs"]
                columns += [family.col("l", w, i) for i in range(len(family.leads[w]))]
        for rule in self.rulebook.act_now_rules:
            columns += [f"an{rule.pk}_p", f"an{rule.pk}_a", f"an{rule.pk}_l"]
        return columns

    def statement(
        self, account_ids: Sequence[int] | None = None, *, changed_only: bool = True
    ) -> tuple[str, list, list[str]]:
        """(sql, params, figure column names) for all accounts or the given ones."""
        params: list = []
        ctes = [self._family_sql(f, account_ids, params) for f in self.families.values()]
        if self.rulebook.act_now_rules:
            ctes.append(self._act_now_sql(account_ids, params))
        joins = " ".join(
            f"LEFT JOIN f{f.index} ON f{f.index}.account_id = a.id" for f in self.families.values()
        )
        if self.rulebook.act_now_rules:
            joins += " LEFT JOIN an ON an.account_id = a.id"
        figures = self._figure_columns()
        where = "1 = 1" + self._ids_filter("a.id", account_ids, params)
        measured = (
            f"measured AS (SELECT a.id, a.mqa_status, a.funnel, a.employees, a.excluded, "
            f"a.excluded_reason, {self.band_sql()} AS band_id, "
            f"{self.act_now_pick()} AS act_now_id"
            + "".join(f", {c}" for c in figures)
            + f" FROM {ACCOUNTS} a {joins} WHERE {where})"
        )
        ruled = f"ruled AS (SELECT measured.*, {self.rule_pick()} AS rule_id FROM measured)"
        decided = f"decided AS (SELECT ruled.*, {self.clause_pick()} AS clause_id FROM ruled)"
        status = self.status_sql()
        # `measured` uses the ids filter last: params were appended in textual order.
        sql = (
            "WITH "
            + ", ".join([*ctes, measured, ruled, decided])
            + f" SELECT id, mqa_status, funnel, employees, excluded, excluded_reason, "
            f"{status} AS status, rule_id, clause_id, act_now_id"
            + "".join(f", {c}" for c in figures)
            + " FROM decided"
            + (f" WHERE {status} <> mqa_status" if changed_only else "")
        )
        return sql, params, figures

    def rows(
        self,
        account_ids: Sequence[int] | None = None,
        *,
        changed_only: bool = True,
        batch: int = 2000,
    ) -> Iterator[Row]:
        """Run the statement, streaming the rows (a server-side cursor on PostgreSQL when
        the rows may be many; a few accounts save its extra round trips)."""
        sql, params, figures = self.statement(account_ids, changed_only=changed_only)
        few = account_ids is not None and len(account_ids) <= SMALL_RUN
        with transaction.atomic():
            if not self.sqlite:
                with connection.cursor() as settings:
                    settings.execute(
                        "; ".join(SESSION_SETTINGS + (SMALL_RUN_SETTINGS if few else []))
                    )
            with connection.cursor() if few else connection.chunked_cursor() as cursor:
                cursor.execute(sql, params)
                while chunk := cursor.fetchmany(batch):
                    for r in chunk:
                        yield Row(
                            account_id=r[0],
                            old_status=r[1],
                            funnel=r[2],
                            employees=r[3],
                            excluded=bool(r[4]),
                            excluded_reason=r[5],
                            status=r[6],
                            rule_id=r[7],
                            clause_id=r[8],
                            act_now_rule_id=r[9],
                            values=dict(zip(figures, r[10:], strict=True)),
                        )

    # -- from a row back to the Python measurements -----------------------------------------

    def _columns(self, scope: Scope) -> tuple:
        found = self._scope_columns.get(scope)
        if found is None:
            family, w = self.scope_family[scope], scope.window_days
            found = self._scope_columns[scope] = (
                *(family.col(kind, w) for kind in "esmpr"),
                [(t, family.col("l", w, i)) for i, t in enumerate(family.leads[w])],
            )
        return found

    def figures(self, row: Row, scope: Scope) -> Figures:
        """The `Figures` Python would have measured for this account in this scope."""
        e, s, m, p, r, leads = self._columns(scope)
        v = row.values
        events = v[e]
        if not events:
            return Figures(window_days=scope.window_days)
        top = v[s]
        return Figures(
            window_days=scope.window_days,
            minutes=_decimal(v[m]),
            events=int(events),
            people=int(v[p] or 0),
            personas=int(v[r] or 0),
            top_seniority=RANKS[top] if top is not None and top < ANONYMOUS_RANK else "",
            leads={threshold: int(v[col]) for threshold, col in leads if v[col]},
        )

    def act_now(self, row: Row, rule) -> tuple[int, int, datetime] | None:
        latest = row.values.get(f"an{rule.pk}_l")
        if latest is None:
            return None
        if isinstance(latest, str):  # SQLite returns text
            parsed = parse_datetime(latest)
            if parsed is None:
                raise ValueError(f"an{rule.pk}_l is not a datetime: {latest!r}")
            latest = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        return (
            int(row.values[f"an{rule.pk}_p"] or 0),
            int(row.values[f"an{rule.pk}_a"] or 0),
            latest,
        )


def _decimal(value) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)).quantize(Decimal("0.01"))
