"""The outbox and its delivery.

`outbox_record` runs inside the transaction of the change it reports (a signal receiver),
so an event exists exactly when its change committed. After commit one task per delivery
is published; `webhooks_sweep` (beat, every minute) re-publishes what is due or was
stranded (lost message, killed worker) — a delivery is only ever sent by whoever claimed
it with a conditional UPDATE, so two beats or two workers never send it twice at once.

Retries: timeouts, connection errors, 5xx, 408 and 429 are retried with exponential
backoff for WEBHOOK_RETRY_HOURS (24 h); any other answer outside 2xx fails at once (the
receiver said no; retrying would not change its mind). An endpoint that has failed for
WEBHOOK_RETRY_HOURS without a single success is disabled and ADMIN_EMAILS are told.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mqaflow.http import json_post

from .models import (
    EVENT_TYPE_NAMES,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from .signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

RETRYABLE_4XX = {408, 429}
SWEEP_BATCH = 500


def outbox_record(*, type: str, data: dict, at: datetime | None = None) -> OutboxEvent | None:
    """Store an event (`at`: when it happened) and its deliveries in the caller's
    transaction; publish after commit. Nothing is stored when no active endpoint subscribes
    to the type."""
    if type not in EVENT_TYPE_NAMES:
        raise ValueError(f"Unknown webhook event type {type!r}.")
    endpoints = [e for e in WebhookEndpoint.objects.filter(is_active=True) if e.wants(type)]
    if not endpoints:
        return None
    now = timezone.now()
    event = OutboxEvent.objects.create(type=type, data=data, created_at=at or now)
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event, endpoint=e, next_attempt_at=now, created_at=now, retry_from=now
            )
            for e in endpoints
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(_publish, delivery.pk))
    return event


def _publish(delivery_id: int) -> bool:
    from mqaflow.broker import publish

    from .tasks import deliver_webhook

    return publish(deliver_webhook, delivery_id)


def delivery_claim(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Take a due delivery for sending; False if someone else has it or it is not due."""
    now = now or timezone.now()
    # No join here: Django would turn it into `WHERE id IN (SELECT … status = 'pending')`,
    # whose inner status check PostgreSQL does not re-evaluate after waiting for a
    # concurrent claim, so two workers could both claim. Conditions on the row itself are
    # re-checked on the latest row version.
    active = WebhookEndpoint.objects.filter(is_active=True).values("pk")
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            endpoint_id__in=active,
        ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )


def delivery_send(*, delivery_id: int) -> str:
    """Send a claimed delivery and record the outcome; returns delivered/retry/failed."""
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.SENDING:
        return "skipped"
    endpoint, event = delivery.endpoint, delivery.event
    body = json.dumps(event.envelope(), separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mqaflow-webhooks/1",
        SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, body),
        "Mqaflow-Event-Id": str(event.event_id),
        "Mqaflow-Event-Type": event.type,
        "Mqaflow-Delivery-Attempt": str(delivery.attempts),
    }
    started = time.monotonic()
    code, error = json_post(
        url=endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    return delivery_record_outcome(
        delivery=delivery, code=code, error=error, duration_ms=duration_ms, now=timezone.now()
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base… capped at WEBHOOK_BACKOFF_MAX_SECONDS."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds)


@transaction.atomic
def delivery_record_outcome(
    *, delivery: WebhookDelivery, code: int | None, error: str, duration_ms: int, now: datetime
) -> str:
    """Write the attempt to the log and move the delivery on (delivered, retry or failed)."""
    window = timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    if code is not None and 200 <= code < 300:
        outcome = "delivered"
    elif code is None or code >= 500 or code in RETRYABLE_4XX:
        outcome = "retry" if now - delivery.retry_from < window else "failed"
        if outcome == "failed":
            error = f"{error} (gave up after {settings.WEBHOOK_RETRY_HOURS} h)"
    else:
        outcome = "failed"
    DeliveryAttempt.objects.create(
        delivery=delivery,
        endpoint=delivery.endpoint,
        at=now,
        outcome=outcome,
        response_code=code,
        duration_ms=duration_ms,
        error=error[:2000],
    )
    fields = {"last_response_code": code, "last_error": error[:2000], "claimed_at": None}
    mine = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING)
    if outcome == "delivered":
        mine.update(
            status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, **fields
        )
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)
        return outcome
    if outcome == "retry":
        mine.update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + retry_delay(delivery.attempts),
            **fields,
        )
    else:
        mine.update(status=DeliveryStatus.FAILED, next_attempt_at=None, **fields)
    _endpoint_failed(delivery.endpoint_id, now)
    return outcome


def _endpoint_failed(endpoint_id: int, now: datetime) -> None:
    """Start (or continue) the endpoint's failing streak; disable it after the window."""
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    window = timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    since = endpoint.failing_since or now  # set just above, unless it already was
    if not endpoint.is_active or now - since < window:
        return
    reason = (
        f"Every delivery failed for {settings.WEBHOOK_RETRY_HOURS} h "
        f"(since {since:%Y-%m-%d %H:%M} UTC)."
    )
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    logger.error("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    transaction.on_commit(
        partial(
            mail_admins,
            f"Webhook endpoint disabled: {endpoint.name}",
            f"mqaflow stopped sending webhooks to {endpoint.name} ({endpoint.url}).\n\n"
            f"{reason}\n\nFix the receiver, then tick 'active' on the endpoint in admin; "
            "pending deliveries go out again and failed ones can be resent from the "
            "delivery log.",
            fail_silently=True,
        )
    )


def endpoint_enable(*, endpoint: WebhookEndpoint, by: Any) -> WebhookEndpoint:
    """Turn an endpoint (back) on with a clean slate: its failing streak starts afresh, so
    it has a full WEBHOOK_RETRY_HOURS before it can be disabled again. Its pending
    deliveries go out with the next sweep."""
    endpoint.is_active = True
    endpoint.failing_since = None
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.save(update_fields=["is_active", "failing_since", "disabled_at", "disabled_reason"])
    logger.info("webhook endpoint %s enabled by %s", endpoint.pk, by)
    return endpoint


def deliveries_resend(*, delivery_ids: list[int], now: datetime | None = None) -> int:
    """Admin "resend": queue the deliveries again (same event id), whatever their state."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(status=DeliveryStatus.SENDING)
        .values_list("pk", flat=True)
    )
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, retry_from=now
    )
    for pk in ids:
        transaction.on_commit(partial(_publish, pk))
    return len(ids)


def _release_stale_claims(now: datetime) -> int:
    """A worker died while sending (killed, lost): its claim goes back to pending. The
    receiver may have got it already; it will see the same event id again."""
    stale = now - timedelta(seconds=settings.WEBHOOK_STALE_CLAIM_SECONDS)
    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=stale
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=now, claimed_at=None)


def webhooks_sweep(*, now: datetime | None = None) -> int:
    """Every minute: free stranded claims and (re)publish every due delivery. Returns how
    many were published (or, with the broker down, sent here)."""
    now = now or timezone.now()
    _release_stale_claims(now)
    due = list(
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING) & Q(next_attempt_at__lte=now),
            endpoint__is_active=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for pk in due:
        if not _publish(pk):  # broker down: deliver from here rather than wait
            delivery_deliver(delivery_id=pk)
    return len(due)


def delivery_deliver(*, delivery_id: int) -> str:
    """Claim and send one delivery (the task's body)."""
    if not delivery_claim(delivery_id=delivery_id):
        return "not-due"
    return delivery_send(delivery_id=delivery_id)
