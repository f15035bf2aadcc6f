"""Publishing after commit without ever making a request wait on a broken broker.

Nothing depends on a message arriving: beat's catch-ups re-derive all pending work from
the database. So a failed publish is logged and dropped, and for the next
`BREAKER_SECONDS` further publishes are skipped outright instead of each paying the
connection timeout (an API under a Redis outage keeps answering fast).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 30.0
_skip_until = 0.0


def publish(task: Task[..., Any], *args: Any, **kwargs: Any) -> bool:
    """`task.apply_async(args, kwargs)`, or False when the broker is (recently) unreachable."""
    global _skip_until
    if time.monotonic() < _skip_until:
        logger.info("broker marked down: %s not published; the catch-up will do it", task.name)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs or None, retry=False)
    except Exception:
        _skip_until = time.monotonic() + BREAKER_SECONDS
        logger.warning(
            "could not publish %s; skipping publishes for %.0f s (the catch-up covers them)",
            task.name,
            BREAKER_SECONDS,
            exc_info=True,
        )
        return False
    return True


def reset() -> None:
    """Forget a recorded outage (tests, or after an operator fixed the broker)."""
    global _skip_until
    _skip_until = 0.0
