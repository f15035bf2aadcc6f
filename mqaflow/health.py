"""GET /health/: the database, the broker, and whether the periodic jobs are alive.

Answers 200 when all is well and 503 otherwise, with a JSON body saying which part failed,
so a load balancer or an uptime monitor can act on it. No login: it reveals no data.
A failure is logged as a warning; it is not an error to mail the admins about on every
probe (a monitor asking twice a minute during an outage would send 120 mails an hour).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from mqaflow.models import Heartbeat

logger = logging.getLogger(__name__)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}"
    return None


def check_broker() -> str | None:
    app = current_app  # the project's app (config/celery.py), loaded with the settings
    if app.conf.task_always_eager:
        return None
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}"
    return None


def check_jobs(now: datetime | None = None) -> dict[str, str | None]:
    """Each periodic job's problem, or None; a job is stale once it has not succeeded for
    its MQAFLOW_HEALTH_STALE_AFTER (its interval plus slack)."""
    now = now or timezone.now()
    stale_after = settings.MQAFLOW_HEALTH_STALE_AFTER
    seen = {h.name: h for h in Heartbeat.objects.filter(name__in=stale_after)}
    problems: dict[str, str | None] = {}
    for name, limit in stale_after.items():
        beat = seen.get(name)
        if beat is None or beat.last_ok_at is None:
            problems[name] = "has not run yet"
        elif now - beat.last_ok_at > limit:
            problems[name] = f"last succeeded {int((now - beat.last_ok_at).total_seconds())} s ago"
        else:
            problems[name] = None
    return problems


def last_recompute() -> dict[str, Any] | None:
    """The latest qualification run, for information (it does not change the status)."""
    from mqaflow.models.transitions import RecomputeRun

    run = RecomputeRun.objects.first()
    if run is None:
        return None
    return {
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "duration_ms": run.duration_ms,
        "scope": run.scope,
        "accounts": run.accounts,
        "transitions": run.transitions,
        "cause": run.cause,
    }


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    database = check_database()
    checks: dict[str, str] = {"database": database or "ok", "broker": check_broker() or "ok"}
    if database is None:
        for name, problem in check_jobs().items():
            checks[name] = problem or "ok"
    healthy = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unhealthy", "checks": checks}
    if database is None:
        body["last_recompute"] = last_recompute()
    response = JsonResponse(
        body,
        status=200 if healthy else 503,
    )
    if not healthy:
        failing = ", ".join(f"{name}: {value}" for name, value in checks.items() if value != "ok")
        logger.warning("health check failed (503): %s", failing)
        # Django's request logger would log the 503 as an error (and so mail it); it skips
        # a response marked as already logged.
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's private flag
    return response
