"""Celery entry points for qualification; the work is in mqaflow.qualification."""

from celery import shared_task

from mqaflow.heartbeat import heartbeat
from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.qualification.scheduling import CATCH_UP
from mqaflow.selectors import pending_account_ids


@shared_task(acks_late=True)
def recompute_accounts(account_ids: list[int], cause: str = "ingest") -> int:
    """Re-evaluate just these accounts (after an ingest, an exclusion, a rule change);
    idempotent, so safe to redeliver."""
    return len(accounts_evaluate(account_ids=account_ids, cause=cause).transitions)


@shared_task(acks_late=True)
def recompute_pending() -> int:
    """Catch-up: accounts with evidence ingested since the last covering run (lost enqueues)."""
    with heartbeat("recompute_pending"):
        return len(accounts_evaluate(account_ids=pending_account_ids(), cause=CATCH_UP).transitions)


@shared_task(acks_late=True)
def recompute_all() -> int:
    """Every 15 minutes: lets engagement age out of its window without any new event."""
    with heartbeat("recompute_all"):
        return len(accounts_evaluate(cause="schedule").transitions)
