"""Celery entry points for plays; the work is in plays.escalation."""

from celery import shared_task

from .escalation import claim_one, deliver_claimed, escalations_sweep


@shared_task(acks_late=True)
def escalations_sweep_task() -> int:
    """Every minute (beat): plan due steps and deliver due notices."""
    return escalations_sweep().sent


@shared_task(acks_late=True)
def deliver_escalation(escalation_id: int) -> str:
    """Deliver a new-play notice at once; if this message is lost the sweep sends it."""
    if not claim_one(escalation_id):
        return "not-due"
    outcome = deliver_claimed(escalation_id)
    return next(iter(outcome), "skipped")


@shared_task(acks_late=True)
def deliver_chat_notices(recipient_id: int, channel: str) -> str:
    """Deliver one recipient's due Slack or Teams notices now (one message)."""
    from .channels import chat_notices_deliver

    return chat_notices_deliver(recipient_id, channel)


@shared_task(acks_late=True)
def chat_notices_sweep_task() -> int:
    """Every minute (beat): due, retried and stranded chat notices."""
    from .channels import chat_notices_sweep

    return chat_notices_sweep()
