"""Claims left behind by a worker that died mid-send, for every notice channel (email
rows and chat rows follow the same rule): resend once, then give up loudly."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db.models import F
from django.utils import timezone

from .models import ChatNotice, Notice, NoticeStatus

STALE_CLAIM_DEFAULT = timedelta(minutes=10)


def release_stale_claims(
    model: type[ChatNotice] | type[Notice],
    *,
    resend_at: datetime,
    resend_note: str,
    unknown_note: str,
    what: str,
    tell_admins: bool = True,
) -> None:
    """Rows of `model` stuck in `sending` longer than MQAFLOW_STALE_CLAIM_SECONDS (on the
    real clock, like the claims): pending again at `resend_at` once; if that send dies
    too, `unknown`, never sent again, and admins are told which `what` it was (unless
    `tell_admins` is off: a dry run's transaction is rolled back)."""
    stale_after = timedelta(
        seconds=getattr(
            settings, "MQAFLOW_STALE_CLAIM_SECONDS", STALE_CLAIM_DEFAULT.total_seconds()
        )
    )
    stale = model.objects.filter(
        status=NoticeStatus.SENDING, claimed_at__lt=timezone.now() - stale_after
    )
    stale.filter(crash_resends=0).update(
        status=NoticeStatus.PENDING,
        crash_resends=F("crash_resends") + 1,
        next_attempt_at=resend_at,
        last_error=resend_note,
    )
    unknown = list(stale.filter(crash_resends__gte=1).values_list("pk", flat=True))
    if unknown:
        model.objects.filter(pk__in=unknown).update(
            status=NoticeStatus.UNKNOWN, last_error=unknown_note
        )
    if unknown and tell_admins:
        mail_admins(
            f"mqaflow: {what} delivery unknown",
            f"{what.capitalize()}s {unknown} may or may not have been delivered; see admin.",
            fail_silently=True,
        )
