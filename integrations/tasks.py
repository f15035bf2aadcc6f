"""Celery entry points for webhooks; the work is in integrations.services."""

from celery import shared_task

from .services import delivery_deliver, webhooks_sweep


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """Deliver one webhook now; if this message is lost the sweep publishes it again."""
    return delivery_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True)
def webhooks_sweep_task() -> int:
    """Every minute (beat): stranded and due deliveries are published again."""
    return webhooks_sweep()
