"""Liveness of periodic jobs: each run records when it started and when it last succeeded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

from mqaflow.models import Heartbeat


@contextmanager
def heartbeat(name: str, *, now: datetime | None = None) -> Iterator[None]:
    """Record a run of `name`; an exception is recorded (truncated) and re-raised."""
    started = now or timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"last_started_at": started})
    try:
        yield
    except Exception as exc:
        Heartbeat.objects.filter(name=name).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000], last_error_at=timezone.now()
        )
        raise
    Heartbeat.objects.filter(name=name).update(last_ok_at=now or timezone.now())
