"""Outgoing webhooks through a transactional outbox.

An `OutboxEvent` is written in the same transaction as the change it reports, with one
`WebhookDelivery` per subscribed endpoint; a Celery task delivers it after commit and a
sweep re-enqueues anything left behind, so a lost broker message or a killed worker
delays a webhook but never loses it. Each attempt is logged (`DeliveryAttempt`).
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils import timezone

EVENT_TYPES = [
    ("account.qualified", "An account became an MQA"),
    ("account.disqualified", "An account stopped being an MQA"),
    ("play.created", "A play was created"),
    ("play.started", "A play was started"),
    ("play.completed", "A play was completed"),
    ("play.dismissed", "A play was dismissed"),
    ("play.withdrawn", "A play was withdrawn"),
    ("play.reassigned", "A play moved to someone else"),
    ("play.escalated", "An escalation about a play was sent"),
]
EVENT_TYPE_NAMES = [name for name, _ in EVENT_TYPES]


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    name = models.CharField(max_length=100, help_text="Who receives it, e.g. 'Salesforce tasks'.")
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=100,
        default=new_secret,
        help_text="Signs every delivery (HMAC-SHA256); give it to the receiver.",
    )
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="The event types to send; empty: all of them.",
    )
    is_active = models.BooleanField("active", default=True)
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="First failed delivery since the last success.",
    )
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class OutboxEvent(models.Model):
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EVENT_TYPES)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    def envelope(self) -> dict:
        """What receivers get: the same for every endpoint and every attempt."""
        return {
            "id": str(self.event_id),
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "data": self.data,
        }


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint: delivered once, retried with backoff, never duplicated
    except when a worker dies after the receiver answered (same event id: receivers dedupe)."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    retry_from = models.DateTimeField(
        default=timezone.now, help_text="Retries stop WEBHOOK_RETRY_HOURS after this."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="one_delivery_per_event_endpoint"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="webhook_delivery_claimed",
                condition=models.Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """The delivery log: one line per HTTP attempt."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=12)  # delivered / retry / failed
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.outcome} {self.response_code or ''} in {self.duration_ms} ms"
