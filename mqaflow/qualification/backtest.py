"""Replaying a rule set over past engagement: every MQA spell it would have produced.

A backtest asks "what if this rule set had been live the whole time?". The answer is the
live engine's own decision (`DecisionQuery`) taken at the end of every day of the period,
with that day's rulebook (its bandwidth period) and the set's weights, folded into spells:
the day an account starts to qualify, the day it stops. Stored statuses are never read nor
written, so a replay changes nothing and can run beside the live engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from mqaflow.models import SENIORITY_RANK, Account, BandwidthPeriod, MQAStatus, Persona, RuleSet

from .rulebook import NO_BANDWIDTH, Bandwidth, ClauseCheck, Rulebook, clause_scope
from .sql import ACCOUNTS, CONTACTS, EVENTS, DecisionQuery, _str


@dataclass(frozen=True)
class Spell:
    """One stretch of days an account is an MQA under the replayed set."""

    account_id: int
    start: date  # first day (local date) the account is qualified
    end: date | None  # first day it is no longer qualified; None: still at the period's end
    rule_id: int | None  # what qualified it on its first day (as the engine records it)
    clause_id: int | None
    act_now_rule_id: int | None


def day_end(day: date) -> datetime:
    """The moment a day is decided at: its last microsecond in the current time zone, so
    every event of the day counts and the day's bandwidth period applies."""
    return timezone.make_aware(datetime.combine(day, time.max), timezone.get_current_timezone())


def _days(start: date, end: date) -> list[date]:
    first = start - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((end - first).days + 1)]


@dataclass
class _Open:
    start: date
    rule_id: int | None
    clause_id: int | None
    act_now_rule_id: int | None


class _Folder:
    """Turns each day's set of qualified accounts into spells."""

    def __init__(self) -> None:
        self.open: dict[int, _Open] = {}
        self.closed: list[Spell] = []

    def day(self, day: date, qualified: dict[int, tuple[int | None, int | None, int | None]]):
        for account_id in [a for a in self.open if a not in qualified]:
            o = self.open.pop(account_id)
            self.closed.append(
                Spell(account_id, o.start, day, o.rule_id, o.clause_id, o.act_now_rule_id)
            )
        for account_id, (rule_id, clause_id, act_now_rule_id) in qualified.items():
            if account_id not in self.open:
                self.open[account_id] = _Open(day, rule_id, clause_id, act_now_rule_id)

    def flips(self, days: list[date], rows) -> None:
        """Rows (account, day index, qualified, rule, clause, Act Now rule) of the days on
        which an account's status flips, in account and day order."""
        for account_id, i, qualified, rule_id, clause_id, act_now_rule_id in rows:
            day = days[i]
            if qualified:
                cause = _cause(rule_id, clause_id, act_now_rule_id)
                self.open[account_id] = _Open(day, *cause)
            else:
                o = self.open.pop(account_id)
                self.closed.append(
                    Spell(account_id, o.start, day, o.rule_id, o.clause_id, o.act_now_rule_id)
                )

    def spells(self) -> list[Spell]:
        still = [
            Spell(a, o.start, None, o.rule_id, o.clause_id, o.act_now_rule_id)
            for a, o in self.open.items()
        ]
        return sorted(self.closed + still, key=lambda s: (s.account_id, s.start))


def _cause(rule_id, clause_id, act_now_rule_id) -> tuple[int | None, int | None, int | None]:
    """What the engine records on a qualifying transition: the Act Now rule alone, or the
    rule and the clause that passed."""
    if act_now_rule_id is not None:
        return None, None, act_now_rule_id
    return rule_id, clause_id, None


def replay_naive(
    *,
    rule_set: RuleSet,
    start: date,
    end: date,
    progress: Callable[[float], None] | None = None,
) -> list[Spell]:
    """The definition: one full decision per day, exactly the live engine's statement."""
    days = _days(start, end)
    folder = _Folder()
    for n, day in enumerate(days):
        query = DecisionQuery(Rulebook(day, rule_set), day_end(day))
        qualified = {
            row.account_id: _cause(row.rule_id, row.clause_id, row.act_now_rule_id)
            for row in query.rows(None, changed_only=False)
            if row.status == MQAStatus.MQA
        }
        folder.day(day, qualified)
        if progress:
            progress((n + 1) / len(days))
    return folder.spells()


# -- the fast path (PostgreSQL): every day in one statement ------------------------------
#
# Instead of measuring every window again for every day, each event is turned into the days
# on which the figures change: its minutes and its count enter on its local day `k` and
# leave on day `k + w` (`k + w + 1` for an event at the very last microsecond of a day,
# which the window `[day_end(d - w), day_end(d)]` still holds on day `d = k + w`); a
# contact's presence (a distinct person, persona, seniority) enters when an island of its
# events starts and leaves when the island's last event leaves; a contact's qualified-lead
# state flips where its own window sum crosses the lead minutes. Summing those changes per
# (account, day) and running a cumulative sum per account gives, on every day on which
# anything changes, exactly the figures the engine's statement measures; the engine's own
# CASE expressions (`DecisionQuery`) then decide each such day with that day's bandwidth,
# and only the days on which an account's status flips come back.


@dataclass
class _Source:
    """Events measured together: a family of clause scopes, or one Act Now rule."""

    name: str
    where: str  # filter over events `e` and contacts `c`, as " AND …"
    windows: set[int] = field(default_factory=set)
    minutes: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)
    anonymous: set[int] = field(default_factory=set)
    people: set[int] = field(default_factory=set)
    personas: set[int] = field(default_factory=set)
    ranks: dict[int, int] = field(default_factory=dict)  # window → highest rank tested
    leads: dict[int, list[Decimal]] = field(default_factory=dict)
    # final figure column → expression over the cumulative columns
    figures: dict[str, str] = field(default_factory=dict)
    # window → the rules whose clauses read it (a family's; an Act Now rule's: empty)
    rules: dict[int, set[int]] = field(default_factory=dict)

    def col(self, kind: str, window: int, part: int | None = None) -> str:
        return f"{self.name}_{kind}{window}" + (f"_{part}" if part is not None else "")


def _bandwidth_by_day(rule_set: RuleSet, days: list[date]) -> list[Bandwidth]:
    """Each day's bandwidth as `Rulebook(day, rule_set)` finds it (the highest factor of
    the set's periods covering the day), from one query."""
    periods = list(BandwidthPeriod.objects.filter(rule_set=rule_set))
    found = []
    for day in days:
        covering = [p for p in periods if p.starts_on <= day <= p.ends_on]
        best = max(covering, key=lambda p: p.factor, default=None)
        found.append(Bandwidth(best.factor, best.name) if best else NO_BANDWIDTH)
    return found


class ReplayStatement:
    """The replay of one rule set over `days` as one PostgreSQL statement."""

    def __init__(self, rule_set: RuleSet, days: list[date]) -> None:
        self.days = days
        self.rulebook = Rulebook(days[0], rule_set)
        self.query = DecisionQuery(self.rulebook, day_end(days[-1]))
        self.bandwidths = _bandwidth_by_day(rule_set, days)
        self.sources = self._sources()

    def _sources(self) -> list[_Source]:
        q = self.query
        sources: dict[int, _Source] = {}
        for rule in self.rulebook.rules:
            for clause in rule.clauses.all():
                family = q.scope_family[clause_scope(clause)]
                src = sources.setdefault(
                    family.index, _Source(f"f{family.index}", q.family_filter(family))
                )
                w = clause.window_days
                src.windows.add(w)
                src.rules.setdefault(w, set()).add(rule.pk)
                for kind in ClauseCheck(clause, NO_BANDWIDTH).thresholds():
                    if kind == "minutes":
                        src.minutes.add(w)
                        src.figures[family.col("m", w)] = src.col("m", w)
                    elif kind == "events":
                        src.events.add(w)
                        src.figures[family.col("e", w)] = src.col("e", w)
                    elif kind == "people":
                        src.people.add(w)
                        src.figures[family.col("p", w)] = src.col("p", w)
                    elif kind == "personas":
                        src.personas.add(w)
                        src.figures[family.col("r", w)] = " + ".join(
                            f"(CASE WHEN {src.col('r', w, i)} > 0 THEN 1 ELSE 0 END)"
                            for i in range(len(Persona.values))
                        )
                    elif kind == "leads":
                        src.leads[w] = family.leads[w]
                        for i in range(len(family.leads[w])):
                            src.figures[family.col("l", w, i)] = src.col("l", w, i)
                if clause.require_seniority:
                    rank = SENIORITY_RANK[clause.require_seniority]
                    src.ranks[w] = max(rank, src.ranks.get(w, 0))
        for src in sources.values():
            for w, top in src.ranks.items():
                family = next(f for f in q.families.values() if f"f{f.index}" == src.name)
                whens = " ".join(f"WHEN {src.col('s', w, r)} > 0 THEN {r}" for r in range(top + 1))
                src.figures[family.col("s", w)] = f"CASE {whens} END"
        found = list(sources.values())
        for act_now in self.rulebook.act_now_rules:
            w = act_now.window_days
            src = _Source(f"an{act_now.pk}", " AND " + q.act_now_filter(act_now), {w})
            src.people.add(w)
            src.anonymous.add(w)
            src.figures[f"an{act_now.pk}_p"] = src.col("p", w)
            src.figures[f"an{act_now.pk}_a"] = src.col("a", w)
            found.append(src)
        return found

    # -- the statement ----------------------------------------------------------------------

    def statement(self, first: int, last_id: int) -> tuple[str, list]:
        """The statement for the accounts whose ids are within [first, last_id]."""
        days, q = self.days, self.query
        last = len(days) - 1
        widest = max((w for src in self.sources for w in src.windows), default=1)
        # Local midnights from before the widest window to the day after the period: the
        # bucket an event falls in is its local day (DST-proof, whatever the zone).
        base = days[0] - timedelta(days=widest + 1)
        midnights = [
            day_end(base + timedelta(days=i - 1)).astimezone(UTC) + timedelta(microseconds=1)
            for i in range(widest + len(days) + 2)
        ]
        params: list = []
        # Each account's rule (none when no rule of the set covers its funnel and band).
        ctes: list[str] = [
            f"rules AS MATERIALIZED (SELECT id, {q.rule_pick()} AS rule_id FROM ("
            f"SELECT a.id, a.funnel, {q.band_sql()} AS band_id FROM {ACCOUNTS} a "
            f"WHERE a.id BETWEEN {int(first)} AND {int(last_id)}) a)"
        ]
        columns: list[str] = []  # every delta column, in order
        branches: list[tuple[str, dict[str, str], str]] = []  # (from, column → expr, where)
        for src in self.sources:
            columns += self._source_columns(src)
            ctes += self._source_ctes(src, midnights, widest + 1, params, first, last_id)
            branches += self._source_branches(src)
        # Every account has a row on the first day and on each day the bandwidth changes,
        # so that it is decided then even with no engagement at all.
        changes = [0] + [i for i in range(1, len(days)) if self._factor(i) != self._factor(i - 1)]
        marks = ", ".join(f"({i})" for i in changes)
        branches.append(
            (
                f"{ACCOUNTS} acc CROSS JOIN (VALUES {marks}) v(d)",
                {"a": "acc.id", "day": "v.d"},
                f"acc.id BETWEEN {int(first)} AND {int(last_id)}",
            )
        )
        union = " UNION ALL ".join(
            "SELECT "
            + ", ".join(
                [f"{expr.get('a', 'a')} AS a", f"{expr['day']} AS day"]
                + [f"{expr.get(c, '0')} AS {c}" for c in columns]
            )
            + f" FROM {source}"
            + (f" WHERE {where}" if where else "")
            for source, expr, where in branches
        )
        sums = "".join(f", SUM({c})::bigint AS {c}" for c in columns)
        ctes.append(
            f"deltas AS (SELECT a, GREATEST(day, 0) AS day{sums} FROM ({union}) u "
            f"WHERE day <= {last} GROUP BY a, GREATEST(day, 0))"
        )
        running = "".join(f", (SUM({c}) OVER acct)::bigint AS {c}" for c in columns)
        ctes.append(
            f"running AS (SELECT a AS account_id, day{running} FROM deltas "
            f"WINDOW acct AS (PARTITION BY a ORDER BY day))"
        )
        figures = "".join(
            f", {expr} AS {name}" for src in self.sources for name, expr in src.figures.items()
        )
        ctes.append(f"figures AS (SELECT account_id, day{figures} FROM running)")
        ctes.append(
            f"measured AS (SELECT an.*, a.funnel, a.employees, a.excluded, "
            f"{q.band_sql()} AS band_id, {q.act_now_pick()} AS act_now_id "
            f"FROM figures an JOIN {ACCOUNTS} a ON a.id = an.account_id)"
        )
        ctes.append(f"ruled AS (SELECT measured.*, {q.rule_pick()} AS rule_id FROM measured)")
        ctes.append(f"decided AS (SELECT ruled.*, {self._clause_pick()} AS clause_id FROM ruled)")
        ctes.append(
            f"statuses AS (SELECT account_id, day, ({q.status_sql()}) = {_str(MQAStatus.MQA)} "
            f"AS qualified, rule_id, clause_id, act_now_id FROM decided)"
        )
        sql = (
            "WITH "
            + ", ".join(ctes)
            + " SELECT account_id, day, qualified, rule_id, clause_id, act_now_id FROM ("
            "SELECT statuses.*, LAG(qualified) OVER (PARTITION BY account_id ORDER BY day) "
            "AS before FROM statuses) s WHERE qualified <> COALESCE(before, false) "
            "ORDER BY account_id, day"
        )
        return sql, params

    def _factor(self, i: int) -> Decimal:
        return self.bandwidths[i].factor

    def _clause_pick(self) -> str:
        """The clause pick of each bandwidth factor, on the days it applies."""
        by_factor: dict[Decimal, list[int]] = {}
        for i in range(len(self.days)):
            by_factor.setdefault(self._factor(i), []).append(i)
        ordinary = max(by_factor, key=lambda f: len(by_factor[f]))
        whens = []
        for factor, indexes in by_factor.items():
            if factor == ordinary:
                continue
            ranges = " OR ".join(f"day BETWEEN {lo} AND {hi}" for lo, hi in _runs(indexes))
            pick = self.query.clause_pick(Bandwidth(factor, ""), cents=True)
            whens.append(f"WHEN {ranges} THEN {pick}")
        default = self.query.clause_pick(Bandwidth(ordinary, ""), cents=True)
        return f"CASE {' '.join(whens)} ELSE {default} END" if whens else default

    def _source_columns(self, src: _Source) -> list[str]:
        cols = []
        for w in sorted(src.windows):
            if w in src.minutes:
                cols.append(src.col("m", w))
            if w in src.events:
                cols.append(src.col("e", w))
            if w in src.anonymous:
                cols.append(src.col("a", w))
            if w in src.people:
                cols.append(src.col("p", w))
            if w in src.personas:
                cols += [src.col("r", w, i) for i in range(len(Persona.values))]
            for r in range(src.ranks.get(w, -1) + 1):
                cols.append(src.col("s", w, r))
            for i in range(len(src.leads.get(w, []))):
                cols.append(src.col("l", w, i))
        return cols

    def _presence(self, src: _Source, w: int) -> bool:
        return w in src.people or w in src.personas or w in src.ranks

    def _source_ctes(
        self, src: _Source, midnights: list, before: int, params: list, first: int, last_id: int
    ) -> list[str]:
        """The source's events (account, contact, day index, last-microsecond flag) and,
        when its figures need them, their islands and their contacts' lead states."""
        q, n = self.query, src.name
        widest = max(src.windows)
        since = day_end(self.days[0] - timedelta(days=widest))
        until = day_end(self.days[-1])
        bucket = "width_bucket(e.occurred_at, %s::timestamptz[])"
        params += [midnights, midnights, midnights]
        ctes = [
            f"{n}_ev AS MATERIALIZED (SELECT e.account_id AS a, e.contact_id AS c, "
            f"c.persona AS persona, {q.rank_sql()} AS rnk, "
            f"(({q.minutes_sql()}) * 100)::bigint AS m, "
            f"{bucket} - {before + 1} AS k, "
            f"width_bucket(e.occurred_at + interval '1 microsecond', %s::timestamptz[]) - "
            f"{bucket} AS x, r.rule_id AS rule "
            f"FROM {EVENTS} e LEFT JOIN {CONTACTS} c ON c.id = e.contact_id "
            f"JOIN rules r ON r.id = e.account_id "
            f"WHERE e.occurred_at >= {q.at_sql(since)} AND e.occurred_at <= {q.at_sql(until)}"
            f"{src.where} AND e.account_id BETWEEN {int(first)} AND {int(last_id)})"
        ]
        if src.minutes or src.events or src.anonymous:
            ctes.append(
                f"{n}_in AS (SELECT a, k, x, m, 1 AS n, rule, "
                f"CASE WHEN c IS NULL THEN 1 ELSE 0 END AS na FROM {n}_ev)"
            )
        if any(self._presence(src, w) for w in src.windows):
            ctes.append(
                f"{n}_isl AS MATERIALIZED (SELECT a, c, persona, rnk, k, x, rule, "
                f"LAG(k + x) OVER byc AS before, LEAD(k) OVER byc AS after FROM {n}_ev "
                f"WHERE c IS NOT NULL WINDOW byc AS (PARTITION BY a, c ORDER BY k, x))"
            )
        for w, thresholds in sorted(src.leads.items()):
            states = ", ".join(
                f"CASE WHEN n > 0 AND m >= {int(t * 100)} THEN 1 ELSE 0 END AS s{i}"
                for i, t in enumerate(thresholds)
            )
            flips = ", ".join(
                f"s{i} - LAG(s{i}, 1, 0) OVER byc AS l{i}" for i in range(len(thresholds))
            )
            ctes.append(
                f"{n}_lead{w} AS (SELECT a, day, {flips} FROM (SELECT a, c, day, {states} FROM "
                f"(SELECT a, c, day, SUM(m) OVER byc AS m, SUM(n) OVER byc AS n FROM "
                f"(SELECT a, c, day, SUM(m) AS m, SUM(n) AS n FROM ("
                f"SELECT a, c, k AS day, m, 1 AS n FROM {n}_ev WHERE c IS NOT NULL UNION ALL "
                f"SELECT a, c, k + x + {w}, -m, -1 FROM {n}_ev WHERE c IS NOT NULL) t "
                f"GROUP BY a, c, day) g WINDOW byc AS (PARTITION BY a, c ORDER BY day)) v) s "
                f"WINDOW byc AS (PARTITION BY a, c ORDER BY day))"
            )
        return ctes

    def _source_branches(self, src: _Source) -> list[tuple[str, dict[str, str], str]]:
        """(FROM, column → expression, WHERE) of each kind of change the source makes."""
        n = src.name
        branches = []
        if src.minutes or src.events or src.anonymous:
            enter: dict[str, str] = {"day": "k"}
            for w in src.windows:
                if w in src.minutes:
                    enter[src.col("m", w)] = "m"
                if w in src.events:
                    enter[src.col("e", w)] = "n"
                if w in src.anonymous:
                    enter[src.col("a", w)] = "na"
            branches.append((f"{n}_in", enter, ""))
            for w in sorted(src.windows):
                leave = {"day": f"k + x + {w}"}
                if w in src.minutes:
                    leave[src.col("m", w)] = "-m"
                if w in src.events:
                    leave[src.col("e", w)] = "-n"
                if w in src.anonymous:
                    leave[src.col("a", w)] = "-na"
                if len(leave) > 1:
                    branches.append((f"{n}_in", leave, self._reads(src, w)))
        present = [w for w in sorted(src.windows) if self._presence(src, w)]
        if present:
            enter = {"day": "k"}
            for w in present:
                start = f"(before IS NULL OR k > before + {w})"
                for col, expr in self._presence_columns(src, w):
                    enter[col] = f"CASE WHEN {start} AND {expr} THEN 1 ELSE 0 END"
            starts = " OR ".join(f"before IS NULL OR k > before + {w}" for w in present)
            branches.append((f"{n}_isl", enter, starts))
            for w in present:
                leave = {"day": f"k + x + {w}"}
                for col, expr in self._presence_columns(src, w):
                    leave[col] = f"CASE WHEN {expr} THEN -1 ELSE 0 END"
                last = f"(after IS NULL OR after > k + x + {w})"
                reads = self._reads(src, w)
                branches.append((f"{n}_isl", leave, f"{last} AND {reads}" if reads else last))
        for w, thresholds in sorted(src.leads.items()):
            flips = {src.col("l", w, i): f"l{i}" for i in range(len(thresholds))}
            nonzero = " OR ".join(f"l{i} <> 0" for i in range(len(thresholds)))
            branches.append((f"{n}_lead{w}", {"day": "day", **flips}, nonzero))
        return branches

    def _reads(self, src: _Source, w: int) -> str:
        """Only the accounts whose rule reads a window need a row where something leaves it:
        for the others its figures are never looked at, and a day on which nothing else
        changes for them cannot change their status."""
        rules = src.rules.get(w)
        if not rules:
            return ""
        return f"rule IN ({', '.join(str(int(pk)) for pk in sorted(rules))})"

    def _presence_columns(self, src: _Source, w: int) -> list[tuple[str, str]]:
        """(column, which contacts it counts) of a window's presence counters."""
        found = []
        if w in src.people:
            found.append((src.col("p", w), "TRUE"))
        if w in src.personas:
            found += [
                (src.col("r", w, i), f"persona = {_str(p)}") for i, p in enumerate(Persona.values)
            ]
        for r in range(src.ranks.get(w, -1) + 1):
            found.append((src.col("s", w, r), f"rnk = {r}"))
        return found

    def spells(self, progress: Callable[[float], None] | None = None) -> list[Spell]:
        """Run the statement over slices of accounts (ids in order): each slice's sorts stay
        in memory, and the caller hears of progress after each."""
        ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        slices = [
            ids[i : i + ACCOUNTS_PER_STATEMENT] for i in range(0, len(ids), ACCOUNTS_PER_STATEMENT)
        ]
        folder = _Folder()
        for n, chunk in enumerate(slices):
            sql, params = self.statement(chunk[0], chunk[-1])
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("; ".join(REPLAY_SETTINGS))
                cursor.execute(sql, params)
                folder.flips(self.days, cursor.fetchall())
            if progress:
                progress((n + 1) / len(slices))
        if progress and not slices:
            progress(1.0)
        return folder.spells()


# How many accounts one statement replays: a slice of 12,500 accounts over 13 weeks of the
# benchmark's engagement sorts ~1.2 million (account, day) rows, in memory with the
# work_mem below, and a 100,000-account replay reports its progress eight times.
ACCOUNTS_PER_STATEMENT = 12_500
# For the replay's transactions. The decision's CASE expressions run on millions of
# (account, day) rows, where compiling them pays off (unlike in a recompute), but LLVM's
# optimisation and inlining of expressions that large cost more than they save; grouping
# by sorting (in the order the running sums need) beats hashing millions of groups.
REPLAY_SETTINGS = [
    "SET LOCAL jit = on",
    "SET LOCAL jit_optimize_above_cost = -1",
    "SET LOCAL jit_inline_above_cost = -1",
    "SET LOCAL work_mem = '256MB'",
    "SET LOCAL enable_hashagg = off",
]


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def replay(
    *,
    rule_set: RuleSet,
    start: date,
    end: date,
    progress: Callable[[float], None] | None = None,
) -> list[Spell]:
    """Every MQA spell of every account under `rule_set`, as if it had been live the whole
    time, deciding each day from start-1 to end (inclusive) at `day_end(day)` exactly like
    the live engine (DecisionQuery with Rulebook(day, rule_set)) would. A spell already
    running on start-1 keeps its start = start - 1 day (callers count only spells starting
    within [start, end] as new MQAs). Excluded accounts never qualify. `progress(fraction
    0..1)` is called as work advances."""
    if end < start:
        raise ValueError("end is before start")
    if connection.vendor != "postgresql":
        return replay_naive(rule_set=rule_set, start=start, end=end, progress=progress)
    return ReplayStatement(rule_set, _days(start, end)).spells(progress)
