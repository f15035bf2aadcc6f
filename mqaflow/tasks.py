"""Celery entry points for qualification; the work is in mqaflow.qualification."""

from celery import shared_task
from django.db.models import F, Q

from mqaflow.heartbeat import heartbeat
from mqaflow.models import Account
from mqaflow.qualification.engine import evaluate_accounts


@shared_task(acks_late=True)
def recompute_accounts(account_ids: list[int], cause: str = "ingest") -> int:
    """Re-evaluate just these accounts (after an ingest, an exclusion, a rule change);
    idempotent, so safe to redeliver."""
    return len(evaluate_accounts(account_ids, cause=cause).transitions)


@shared_task(acks_late=True)
def recompute_pending() -> int:
    """Catch-up: accounts with evidence newer than their last evaluation (lost enqueues)."""
    pending = Account.objects.filter(
        Q(last_evaluated_at__isnull=True, last_event_ingested_at__isnull=False)
        | Q(last_event_ingested_at__gt=F("last_evaluated_at"))
    ).values_list("pk", flat=True)
    with heartbeat("recompute_pending"):
        return len(evaluate_accounts(list(pending), cause="ingest").transitions)


@shared_task(acks_late=True)
def recompute_all() -> int:
    """Every 15 minutes: lets engagement age out of its window without any new event."""
    with heartbeat("recompute_all"):
        return len(evaluate_accounts(cause="schedule").transitions)
