"""Engine benchmark: bulk ingest through the API, full and incremental recompute, the
one-statement lower bound (lower_bound.sql) and a naive per-account ORM baseline."""

from __future__ import annotations

import resource
import statistics
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection
from django.db.models import Count, Min, Sum
from django.test import Client
from django.utils import timezone

FUNNEL_SQL = """
INSERT INTO mqaflow_account (name, domain, funnel, employees, industry, excluded,
    excluded_reason, mqa_status, mqa_figures, mqa_explanation, created_at, updated_at)
SELECT 'Account ' || g, 'acct' || g || '.example', 1 + g %% 3,
       CASE WHEN g %% 2 = 0 THEN 80 ELSE 900 END, '', g %% 97 = 0, '', 'not_qualified', '{}', '',
       %(now)s, %(now)s
FROM generate_series(1, %(accounts)s) g
"""

CONTACT_SQL = """
INSERT INTO mqaflow_contact (account_id, email, name, title, persona, seniority, created_at)
SELECT a.id, 'p' || k || '@' || a.domain, 'Person ' || k, '',
       (ARRAY['marketing','sales','it','finance','operations','executive','other'])
           [1 + (a.id + k) %% 7],
       (ARRAY['c_level','vp','director','manager','individual'])[1 + (a.id * 3 + k) %% 5],
       %(now)s
FROM mqaflow_account a CROSS JOIN generate_series(1, 3) k
ORDER BY a.id, k
"""

# Events spread over 180 days, accounts, contacts and activities drawn at random (seeded,
# so every run builds the same data); a third of the events are anonymous.
EVENT_SQL = """
INSERT INTO mqaflow_engagementevent (external_id, account_id, contact_id, activity_id,
    occurred_at, minutes, source, ingested_at)
SELECT 'bench-' || g, %(a0)s + j, CASE WHEN k = 0 THEN NULL ELSE %(c0)s + 3 * j + k - 1 END,
       (%(acts)s::bigint[])[1 + t], %(now)s - make_interval(mins => m),
       (ARRAY[2, 5, 30, 20, 2])[1 + t]::numeric, 'bench', %(now)s
FROM (
    SELECT g, floor(random() * %(accounts)s)::bigint AS j, floor(random() * 3)::int AS k,
           floor(random() * 5)::int AS t, floor(random() * 180 * 24 * 60)::int AS m
    FROM generate_series(1, %(events)s) g
) s
"""


def _generate(accounts: int, events: int, now) -> float:
    from mqaflow.models import ActivityType

    started = time.perf_counter()
    acts = list(
        ActivityType.objects.filter(
            key__in=["web_visit", "content_download", "webinar_attended", "event_visit"]
        ).values_list("pk", flat=True)
    )
    acts = [*acts, acts[0]]
    with connection.cursor() as cur:
        cur.execute(FUNNEL_SQL, {"now": now, "accounts": accounts})
        cur.execute(CONTACT_SQL, {"now": now})
        cur.execute("SELECT setseed(0.42)")
        cur.execute("SELECT min(id) FROM mqaflow_account")
        a0 = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM mqaflow_contact")
        c0 = cur.fetchone()[0]
        step = 1_000_000
        for start in range(0, events, step):
            count = min(step, events - start)
            sql = EVENT_SQL.replace(
                "generate_series(1, %(events)s)", f"generate_series({start + 1}, {start + count})"
            )
            cur.execute(
                sql,
                {
                    "now": now,
                    "a0": a0,
                    "c0": c0 + 1,
                    "accounts": accounts,
                    "acts": acts,
                    "events": events,
                },
            )
        # What autovacuum does after a bulk load (it is off on the test server): without it
        # the first query to read the fresh events pays for setting their hint bits.
        cur.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _fallback_owner() -> None:
    from plays.models import SLAPolicy
    from tests.factories import OwnerFactory

    SLAPolicy.objects.update(fallback_owner=OwnerFactory(name="Bench fallback"))


def _api_ingest(now, batches: int = 10, size: int = 5000) -> float:
    """The API as in production: the recompute each batch asks for goes to the broker
    (nobody consumes it here), it does not run inside the request."""
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        return _post_batches(now, batches, size)
    finally:
        app.conf.task_always_eager = True
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)


def _post_batches(now, batches: int, size: int) -> float:
    from mqaflow.models import Account
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(is_staff=True))
    domains = list(Account.objects.order_by("pk").values_list("domain", flat=True)[:1000])
    total = 0
    started = time.perf_counter()
    for b in range(batches):
        batch = [
            {
                "id": f"api-{b}-{i}",
                "account": domains[i % len(domains)],
                "activity": "web_visit",
                "occurred_at": (now - timedelta(minutes=i)).isoformat(),
            }
            for i in range(size)
        ]
        response = client.post("/api/v1/events/", batch, content_type="application/json")
        assert response.status_code == 201, response.content[:500]
        total += response.json()["created"]
    return total / (time.perf_counter() - started)


def naive_evaluate(account, now) -> bool:
    """The straightforward way: per account, look up its rule and query each clause."""
    from mqaflow.models import (
        SENIORITY_RANK,
        ActNowRule,
        EngagementEvent,
        MQARule,
        RuleSet,
        Seniority,
        SizeBand,
    )
    from mqaflow.models.choices import seniority_rank_expression

    live = RuleSet.objects.live()
    band = next(
        (
            b
            for b in SizeBand.objects.filter(rule_set=live)
            if account.employees >= b.min_employees
            and (b.max_employees is None or account.employees < b.max_employees)
        ),
        None,
    )
    for rule in ActNowRule.objects.filter(rule_set=live, is_active=True):
        qs = EngagementEvent.objects.filter(
            account=account,
            activity=rule.activity,
            occurred_at__gte=now - timedelta(days=rule.window_days),
            occurred_at__lte=now,
        )
        if rule.min_seniority:
            qs = qs.filter(contact__seniority__in=Seniority.at_or_above(rule.min_seniority))
        if qs.values("contact").distinct().count() >= rule.min_people:
            return True
    rule = MQARule.objects.filter(
        rule_set=live, is_active=True, funnel=account.funnel, size_band=band
    ).first()
    if rule is None:
        return False
    for clause in rule.clauses.all():
        events = EngagementEvent.objects.filter(
            account=account,
            occurred_at__gte=now - timedelta(days=clause.window_days),
            occurred_at__lte=now,
        )
        figures = events.aggregate(
            minutes=Sum("minutes"),
            people=Count("contact", distinct=True),
            personas=Count("contact__persona", distinct=True),
            top=Min(seniority_rank_expression("contact__seniority")),
            n=Count("id"),
        )
        senior_enough = not clause.require_seniority or (
            figures["top"] is not None
            and figures["top"] <= SENIORITY_RANK[clause.require_seniority]
        )
        if (
            (figures["minutes"] or Decimal(0)) >= (clause.min_minutes or 0)
            and figures["people"] >= (clause.min_people or 0)
            and figures["personas"] >= (clause.min_personas or 0)
            and senior_enough
        ):
            return True
    return False


LOWER_BOUND_SQL = (Path(__file__).parent / "lower_bound.sql").read_text()


class LowerBoundMismatch(AssertionError):
    """The hand-written statement and the engine disagree: one of them is wrong."""


def lower_bound(now) -> dict[int, str]:
    """Run the hand-written statement once (same session settings as the engine's
    statement) and return every account's status."""
    from django.db import transaction

    from mqaflow.models import ActivityType
    from mqaflow.qualification.sql import SESSION_SETTINGS

    params = {
        "now": now,
        "since30": now - timedelta(days=30),
        "since60": now - timedelta(days=60),
        "demo": ActivityType.objects.get(key="demo_request").pk,
        "meeting": ActivityType.objects.get(key="meeting_requested").pk,
    }
    with transaction.atomic(), connection.cursor() as cur:
        for setting in SESSION_SETTINGS:
            cur.execute(setting)
        cur.execute(LOWER_BOUND_SQL, params)
        return {row[0]: row[1] for row in cur.fetchall()}


def check_lower_bound(now) -> int:
    """Fail loudly unless the lower bound gives every account the status the engine stored."""
    from mqaflow.models import Account

    bound = lower_bound(now)
    stored = dict(Account.objects.values_list("pk", "mqa_status"))
    wrong = {
        pk: (stored.get(pk), status) for pk, status in bound.items() if stored.get(pk) != status
    }
    if wrong or bound.keys() != stored.keys():
        sample = list(wrong.items())[:10]
        raise LowerBoundMismatch(
            f"lower bound and engine disagree on {len(wrong)} account(s), e.g. "
            f"(id, (engine, lower bound)): {sample}"
        )
    return sum(1 for status in bound.values() if status == "mqa")


class ReplayMismatch(AssertionError):
    """The backtest's replay and the engine's statement disagree on a day's MQAs."""


BACKTEST_WEEKS = 13


def backtest_rows(full_s: float) -> list[tuple[str, str, str]]:
    """Time the backtest's replay of the live set over the last 13 weeks at daily
    resolution (`start - 1` to today: 92 decided days), then check its last day against the
    engine's statement at that day's end, and compare with one full recompute."""
    from mqaflow.models import MQAStatus, RuleSet
    from mqaflow.qualification.backtest import day_end, replay
    from mqaflow.qualification.rulebook import Rulebook
    from mqaflow.qualification.sql import DecisionQuery

    end = timezone.localdate()
    start = end - timedelta(days=BACKTEST_WEEKS * 7 - 1)
    live = RuleSet.objects.live()
    started = time.perf_counter()
    spells = replay(rule_set=live, start=start, end=end)
    replay_s = time.perf_counter() - started
    new = sum(1 for s in spells if s.start >= start)
    replayed = {s.account_id for s in spells if s.end is None}
    query = DecisionQuery(Rulebook(end, live), day_end(end))
    engine = {
        row.account_id
        for row in query.rows(None, changed_only=False)
        if row.status == MQAStatus.MQA
    }
    if replayed != engine:
        raise ReplayMismatch(
            f"on {end} the replay has {len(replayed):,} MQAs, the engine {len(engine):,}; "
            f"{len(replayed ^ engine):,} differ, e.g. {sorted(replayed ^ engine)[:10]}"
        )
    days = (end - start).days + 2
    return [
        (
            f"backtest replay, {BACKTEST_WEEKS} weeks × daily ({days} days decided), live set: "
            f"{new:,} new MQAs, {len(spells):,} spells",
            f"{replay_s:.1f} s",
            "≤ 60 s",
        ),
        (
            "backtest replay / full recompute (full-recompute equivalents)",
            f"{replay_s / full_s:.1f}×",
            f"≤ 20× (naive: {days}×)",
        ),
    ]


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(*, accounts: int, events: int) -> list[tuple[str, str, str]]:
    from mqaflow.models import Account
    from mqaflow.qualification.engine import accounts_evaluate
    from mqaflow.signals import account_qualified, accounts_qualified

    now = timezone.now()
    rows = []
    gen = _generate(accounts, events, now)
    rows.append(("generate data (SQL)", f"{gen:.1f} s", "—"))

    # The engine alone: play creation (receivers, batched for a fresh load) is not timed here.
    receivers = account_qualified.receivers
    batch_receivers = accounts_qualified.receivers
    account_qualified.receivers = accounts_qualified.receivers = []
    account_qualified.sender_receivers_cache.clear()
    accounts_qualified.sender_receivers_cache.clear()
    try:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        first = accounts_evaluate(now=now, cause="bench")
        first_s = time.perf_counter() - started
        # The process's peak so far: Django, the data generation's client side and the
        # biggest recompute (every qualifying account transitions at once).
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # What autovacuum does after a bulk load; without it the rewritten accounts
        # leave dead rows that every later query steps over.
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE mqaflow_account")
    finally:
        account_qualified.receivers = receivers
        accounts_qualified.receivers = batch_receivers
        account_qualified.sender_receivers_cache.clear()
        accounts_qualified.sender_receivers_cache.clear()

    _fallback_owner()  # qualifications during the API ingest need someone to assign plays to
    rate = _api_ingest(now)
    rows.append(("API bulk ingest (10 × 5,000 events)", f"{rate:,.0f} ev/s", "≥ 5,000 ev/s"))

    account_qualified.receivers = accounts_qualified.receivers = []
    account_qualified.sender_receivers_cache.clear()
    accounts_qualified.sender_receivers_cache.clear()
    try:
        steady_at = now + timedelta(minutes=15)
        accounts_evaluate(now=steady_at, cause="bench")  # settles what aged out in 15 min

        # Interleaved at one fixed moment: engine, lower bound, engine, lower bound, …
        qualified = check_lower_bound(steady_at)
        engine_s, bound_s = [], []
        for _ in range(3):
            engine_s.append(_timed(lambda: accounts_evaluate(now=steady_at, cause="bench")))
            bound_s.append(_timed(lambda: lower_bound(steady_at)))
        full_s, bound = statistics.median(engine_s), statistics.median(bound_s)
        rows += [
            (
                f"full recompute, first run ({len(first.transitions):,} transitions)",
                f"{first_s:.1f} s",
                f"≤ 3× steady ({first_s / full_s:.1f}×)",
            ),
            ("full recompute, steady state (median of 3)", f"{full_s:.2f} s", "≤ 30 s"),
            (
                f"lower bound: one hand-written statement, same {qualified:,} MQAs (median of 3)",
                f"{bound:.2f} s",
                "—",
            ),
            ("engine / lower bound (steady state)", f"{full_s / bound:.2f}×", "≤ 1.5× (1.2×)"),
            (
                f"peak memory (RSS) through the first full recompute ({rss_before:.0f} MB before)",
                f"{peak_mb:.0f} MB",
                "≤ 300 MB",
            ),
        ]

        rows += backtest_rows(full_s)

        ids = list(Account.objects.order_by("?").values_list("pk", flat=True)[:100])
        samples = []
        for i in range(7):
            started = time.perf_counter()
            accounts_evaluate(account_ids=ids, now=now + timedelta(minutes=20 + i), cause="bench")
            samples.append(time.perf_counter() - started)
        incremental = statistics.median(samples)
        rows.append(
            (
                "incremental recompute, 100 accounts (median of 7)",
                f"{incremental * 1000:.0f} ms",
                "≤ 50 ms",
            )
        )

        sample = list(Account.objects.order_by("?")[:300])
        started = time.perf_counter()
        for account in sample:
            naive_evaluate(account, now)
        per_account = (time.perf_counter() - started) / len(sample)
        naive_full = per_account * accounts
        rows.append(
            (
                "naive per-account ORM, full (extrapolated from 300)",
                f"{naive_full:.0f} s",
                "baseline",
            )
        )
        # The same 100 accounts as the incremental run, so both read equally warm pages.
        same = list(Account.objects.filter(pk__in=ids))
        started = time.perf_counter()
        for account in same:
            naive_evaluate(account, now)
        naive_100 = time.perf_counter() - started
        rows.append(
            (
                "naive per-account ORM, the same 100 accounts",
                f"{naive_100 * 1000:.0f} ms",
                "baseline",
            )
        )
        rows.append(("speedup, full recompute", f"{naive_full / full_s:.0f}×", "≥ 20×"))
        rows.append(("speedup, 100 accounts", f"{naive_100 / incremental:.0f}×", "≥ 20×"))
    finally:
        account_qualified.receivers = receivers
        accounts_qualified.receivers = batch_receivers
        account_qualified.sender_receivers_cache.clear()
        accounts_qualified.sender_receivers_cache.clear()
    return rows
