"""Celery entry points for plays; the work is in plays.escalation and plays.channels.

Task names are stored in queued messages and beat rows: a renamed task keeps its old name
registered as an alias."""

from celery import shared_task

from .escalation import escalations_sweep, notice_claim, notices_deliver_claimed


@shared_task(acks_late=True)
def escalations_sweep_task() -> int:
    """Every minute (beat): plan due steps and deliver due notices."""
    return escalations_sweep().sent


@shared_task(acks_late=True)
def notice_deliver(notice_id: int) -> str:
    """Deliver a new-play or mention notice at once; if this message is lost the sweep
    sends it."""
    if not notice_claim(notice_id=notice_id):
        return "not-due"
    outcome = notices_deliver_claimed(notice_ids=notice_id)
    return next(iter(outcome), "skipped")


@shared_task(name="plays.tasks.deliver_escalation", acks_late=True)
def deliver_escalation(notice_id: int) -> str:
    """Compatibility: the task's name before it became `notice_deliver`. Messages published
    by an earlier release may still be queued under this name; they run the new task."""
    return notice_deliver(notice_id)


@shared_task(acks_late=True)
def deliver_chat_notices(recipient_id: int, channel: str) -> str:
    """Deliver one recipient's due Slack or Teams notices now (one message)."""
    from .channels import chat_notices_deliver

    return chat_notices_deliver(recipient_id=recipient_id, channel=channel)


@shared_task(acks_late=True)
def chat_notices_sweep_task() -> int:
    """Every minute (beat): due, retried and stranded chat notices."""
    from .channels import chat_notices_sweep

    return chat_notices_sweep()
