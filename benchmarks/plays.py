"""Sweep benchmark: 1,000,000 plays of which 100 are due; and ingest → play latency."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

TRANSITIONS_SQL = """
INSERT INTO mqaflow_mqatransition (account_id, from_status, to_status, at, funnel, size_band,
    figures, explanation, cause)
SELECT (SELECT min(id) FROM mqaflow_account) + (g %% %(accounts)s), 'not_qualified', 'mqa',
       %(now)s - make_interval(days => 30), 1, 'large', '{}', 'bench', 'bench'
FROM generate_series(1, %(plays)s) g
ORDER BY g
"""

# Plays created 30 days ago: most are completed; open ones (pending, not yet due, and the
# 100 that are due now) sit on distinct accounts, as the one-open-play constraint requires.
PLAYS_SQL = """
INSERT INTO plays_play (account_id, transition_id, assignee_id, status, created_at, due_at,
    remind_at, started_at, completed_at, dismissed_note, withdrawn_reason, outcome, message,
    policy_id, policy_version, plan, next_action_at)
SELECT t.account_id, t.id, %(owner)s,
       CASE WHEN n <= %(open)s THEN 'pending' ELSE 'completed' END,
       t.at, t.at + interval '24 hours', t.at + interval '18 hours',
       CASE WHEN n <= %(open)s THEN NULL ELSE t.at + interval '2 hours' END,
       CASE WHEN n <= %(open)s THEN NULL ELSE t.at + interval '3 hours' END,
       '', '', '', '', %(policy)s, 1, %(plan)s::jsonb,
       CASE WHEN n <= %(due)s THEN %(now)s - interval '1 minute'
            WHEN n <= %(open)s THEN %(now)s + interval '6 hours' ELSE NULL END
FROM (SELECT id, account_id, at, row_number() OVER (ORDER BY id) AS n
      FROM mqaflow_mqatransition WHERE explanation = 'bench') t
"""


def run(*, plays: int) -> list[tuple[str, str, str]]:
    import json

    from mqaflow.models import Account
    from plays.escalation import _plan_due, escalations_sweep
    from plays.models import SLAPolicy
    from plays.selectors import due_plays
    from tests.factories import OwnerFactory

    now = timezone.now()
    accounts = Account.objects.count()
    ceo = OwnerFactory(name="Bench CEO")
    manager = OwnerFactory(name="Bench Manager", manager=ceo)
    adr = OwnerFactory(name="Bench ADR", manager=manager)
    policy = SLAPolicy.objects.get(funnel=1)
    plan = json.dumps(
        [
            {
                "step": 1,
                "kind": "reminder",
                "at": (now - timedelta(minutes=1)).isoformat(),
                "levels_up": 0,
                "to_top": False,
                "label": "reminder",
            },
            {
                "step": 2,
                "kind": "escalation",
                "at": (now - timedelta(minutes=1)).isoformat(),
                "levels_up": 1,
                "to_top": False,
                "label": "manager",
            },
        ]
    )
    open_plays = min(10_000, accounts)
    started = time.perf_counter()
    with connection.cursor() as cur:
        # Start from no plays: the engine benchmark's ingest already created some.
        cur.execute(
            "TRUNCATE plays_chatnotice, plays_notice, plays_playlogentry, plays_play, "
            "plays_historicalplay RESTART IDENTITY CASCADE"
        )
        cur.execute(TRANSITIONS_SQL, {"accounts": accounts, "plays": plays, "now": now})
        cur.execute(
            PLAYS_SQL,
            {
                "owner": adr.pk,
                "open": open_plays,
                "due": 100,
                "policy": policy.pk,
                "plan": plan,
                "now": now,
            },
        )
        cur.execute("ANALYZE")
    rows = [("generate plays (SQL)", f"{time.perf_counter() - started:.1f} s", "—")]

    with connection.cursor() as cur:
        sql, params = due_plays(now=now).values("pk").query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan_text = " / ".join(r[0].strip() for r in cur.fetchall())
    print("EXPLAIN due plays:", plan_text)

    started = time.perf_counter()
    found = list(due_plays(now=now).values_list("pk", flat=True))
    rows.append(
        (
            f"due-plays query ({len(found)} of {plays:,})",
            f"{(time.perf_counter() - started) * 1000:.1f} ms",
            "—",
        )
    )
    started = time.perf_counter()
    planned = _plan_due(now)
    plan_ms = (time.perf_counter() - started) * 1000
    rows.append(
        (
            f"sweep, plan: 100 due plays → {len(planned)} notice rows",
            f"{plan_ms:.0f} ms",
            "≤ 100 ms",
        )
    )
    started = time.perf_counter()
    result = escalations_sweep(now=now)
    deliver_ms = (time.perf_counter() - started) * 1000
    rows.append(
        (f"sweep, deliver: {result.sent} emails (locmem backend)", f"{deliver_ms:.0f} ms", "—")
    )
    started = time.perf_counter()
    escalations_sweep(now=now + timedelta(seconds=30))
    rows.append(
        (
            f"sweep with nothing due ({plays:,} plays)",
            f"{(time.perf_counter() - started) * 1000:.1f} ms",
            "—",
        )
    )
    rows.extend(_latency(adr))
    return rows


def _latency(owner, samples: int = 20) -> list[tuple[str, str, str]]:
    """Event posted through the API → play row exists, with a real worker and Redis."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.test import Client

    from config.celery import app
    from mqaflow.models import Account
    from plays.models import Play
    from tests.factories import UserFactory

    if not os.environ.get("REDIS_URL"):
        return [("ingest → play latency", "skipped (no REDIS_URL)", "p95 ≤ 2 s")]
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app.conf.task_always_eager = False
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    timings = []
    try:
        time.sleep(3)
        targets = [
            Account.objects.create(
                name=f"Latency {n}",
                domain=f"latency{n}.example",
                funnel=1,
                employees=500,
                owner=owner,
            )
            for n in range(samples)
        ]
        for n, account in enumerate(targets):
            event = {
                "id": f"latency-{n}",
                "account": account.domain,
                "activity": "demo_request",
                "occurred_at": timezone.now().isoformat(),
            }
            started = time.perf_counter()
            client.post("/api/v1/events/", event, content_type="application/json")
            while not Play.objects.filter(account=account).exists():
                if time.perf_counter() - started > 30:
                    break
                time.sleep(0.02)
            timings.append(time.perf_counter() - started)
    finally:
        app.conf.task_always_eager = True
        worker.terminate()
        worker.wait(30)
    if len(timings) < 2:
        return [("ingest → play latency", "not enough samples", "p95 ≤ 2 s")]
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[-1]
    return [
        (
            f"ingest → play latency, live worker (p50 / p95 of {len(timings)})",
            f"{statistics.median(timings):.2f} / {p95:.2f} s",
            "p95 ≤ 2 s",
        )
    ]
