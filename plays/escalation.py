"""Where escalations happen: the sweep that plans due steps and delivers them, once.

Two phases, each in short transactions:

1. Plan. Pending plays whose `next_action_at` has passed (a partial index keeps this
   proportional to the number due) are locked with SKIP LOCKED; every plan entry now due
   becomes an `Escalation` row, in ladder order, with its recipient resolved from the chain
   as it stands now. The (play, step) unique constraint makes a second sweep's insert a no-op.
2. Deliver. Due rows are claimed (`pending` → `sending`, SKIP LOCKED) and committed, then
   each is sent while holding the play's row lock, after re-checking that the play is still
   pending. A play started first gets no email; a start that arrives during the send waits
   for it. Failures go back to `pending` with exponential backoff; SMTP 5xx is `failed`.

Delivery policy for a crash between the SMTP server accepting a message and the row being
marked sent: at-least-once with at most one duplicate. A row left in `sending` longer than
`MQAFLOW_STALE_CLAIM_SECONDS` (10 minutes) is resent once; if that also dies it is marked
`unknown` and admins are told.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mqaflow.heartbeat import heartbeat

from .models import Escalation, EscalationKind, EscalationStatus, Play, PlayStatus
from .notifications import send_notice
from .routing import absences_at, escalation_recipient

logger = logging.getLogger(__name__)

BATCH = 200
# A claim older than this means the worker died mid-send (sends take seconds: EMAIL_TIMEOUT).
STALE_CLAIM_DEFAULT = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
SWEEP_NAME = "escalations_sweep"


@dataclass
class SweepResult:
    planned: list[Escalation] = field(default_factory=list)
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0


def escalations_sweep(*, now: datetime | None = None, dry_run: bool = False) -> SweepResult:
    """Plan every due step and deliver every due notice; safe to run concurrently."""
    now = now or timezone.now()
    if dry_run:
        return SweepResult(planned=_plan_due(now, dry_run=True))
    with heartbeat(SWEEP_NAME, now=now):
        result = SweepResult(planned=_plan_due(now))
        _release_stale_claims(now)
        _deliver_due(now, result)
    return result


# --- plan --------------------------------------------------------------------------------


def _plan_due(now: datetime, *, dry_run: bool = False) -> list[Escalation]:
    planned: list[Escalation] = []
    while True:
        with transaction.atomic():
            plays = list(
                Play.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=PlayStatus.PENDING, next_action_at__lte=now)
                .select_related("assignee")
                .order_by("next_action_at")[:BATCH]
            )
            if not plays:
                return planned
            batch = _plan_plays(plays, now)
            planned.extend(batch)
            if dry_run:
                transaction.set_rollback(True)
                return planned


def _plan_plays(plays: list[Play], now: datetime) -> list[Escalation]:
    existing: dict[int, dict[int, Escalation]] = {p.pk: {} for p in plays}
    for row in Escalation.objects.filter(play__in=plays):
        existing[row.play_id][row.step] = row
    rows: list[Escalation] = []
    context = {"chains": {}, "absences": absences_at(now)}
    for play in plays:
        done = existing[play.pk]
        alerted = {
            r.recipient_id
            for r in done.values()
            if r.kind == EscalationKind.ESCALATION and r.status != EscalationStatus.SKIPPED
        }
        upcoming = []
        for entry in sorted(play.plan, key=lambda e: e["step"]):
            at = parse_datetime(entry["at"])
            if entry["step"] in done:
                continue
            if at > now:
                upcoming.append(at)
                continue
            row = _planned_row(play, entry, at, now, alerted, context)
            done[row.step] = row
            rows.append(row)
        play.next_action_at = min(upcoming, default=None)
    Escalation.objects.bulk_create(rows, ignore_conflicts=True)
    Play.objects.bulk_update(plays, ["next_action_at"])
    return rows


def _planned_row(
    play: Play, entry: dict, at: datetime, now: datetime, alerted: set, context: dict
) -> Escalation:
    row = Escalation(
        play=play,
        step=entry["step"],
        kind=entry["kind"],
        due_at=at,
        next_attempt_at=now,
        created_at=now,
    )
    if entry["kind"] == EscalationKind.REMINDER:
        row.recipient, row.level = play.assignee, 0
        row.recipient_email = play.assignee.email
        return row
    chains = context["chains"]
    if play.assignee_id not in chains:
        chains[play.assignee_id] = play.assignee.managers()
    found = escalation_recipient(
        play.assignee,
        levels_up=entry["levels_up"],
        to_top=entry["to_top"],
        at=now,
        chain=chains[play.assignee_id],
        absences=context["absences"],
    )
    notes = [f"Step: {entry['label']}.", *found.notes]
    row.recipient, row.level = found.owner, found.level
    row.recipient_email = found.owner.email if found.owner else ""
    if found.owner is None:
        row.status = EscalationStatus.SKIPPED
    elif found.owner.pk in alerted:
        row.status = EscalationStatus.SKIPPED
        notes.append(f"{found.owner.name} was already alerted about this play.")
    else:
        alerted.add(found.owner.pk)
    row.note = " ".join(notes)
    if row.status == EscalationStatus.SKIPPED:
        row.next_attempt_at = None
    return row


# --- deliver -----------------------------------------------------------------------------


def _release_stale_claims(now: datetime) -> None:
    """Rows stuck in `sending`: the worker died mid-send. Resend once, then give up loudly."""
    stale_after = timedelta(
        seconds=getattr(
            settings, "MQAFLOW_STALE_CLAIM_SECONDS", STALE_CLAIM_DEFAULT.total_seconds()
        )
    )
    stale = Escalation.objects.filter(
        status=EscalationStatus.SENDING, claimed_at__lt=now - stale_after
    )
    stale.filter(crash_resends=0).update(
        status=EscalationStatus.PENDING,
        crash_resends=F("crash_resends") + 1,
        next_attempt_at=now,
        last_error="The worker stopped mid-send; resending once (the recipient may get two).",
    )
    unknown = list(stale.filter(crash_resends__gte=1).values_list("pk", flat=True))
    if unknown:
        Escalation.objects.filter(pk__in=unknown).update(
            status=EscalationStatus.UNKNOWN,
            last_error="The worker stopped mid-send twice; not sent again. Check the mail log.",
        )
        mail_admins(
            "mqaflow: escalation delivery unknown",
            f"Escalations {unknown} may or may not have been delivered; see admin.",
            fail_silently=True,
        )


def _claim(now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        ids = list(
            Escalation.objects.select_for_update(skip_locked=True)
            .filter(status=EscalationStatus.PENDING, next_attempt_at__lte=now)
            .order_by("due_at", "play_id", "step")
            .values_list("pk", flat=True)[:limit]
        )
        Escalation.objects.filter(pk__in=ids).update(
            status=EscalationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return ids


def _deliver_due(now: datetime, result: SweepResult) -> None:
    while ids := _claim(now, BATCH):
        for pk in ids:
            outcome = deliver_claimed(pk, now=now)
            setattr(result, outcome, getattr(result, outcome) + 1)


def claim_one(escalation_id: int, *, now: datetime | None = None) -> bool:
    """Claim one pending notice for immediate delivery (after a play is created)."""
    now = now or timezone.now()
    return bool(
        Escalation.objects.filter(
            pk=escalation_id, status=EscalationStatus.PENDING, next_attempt_at__lte=now
        ).update(status=EscalationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )


def deliver_claimed(escalation_id: int, *, now: datetime | None = None) -> str:
    """Send one claimed notice under the play's row lock; returns the counter to bump."""
    now = now or timezone.now()
    with transaction.atomic():
        escalation = Escalation.objects.select_related("recipient").get(pk=escalation_id)
        if escalation.status != EscalationStatus.SENDING:
            return "skipped"
        play = (
            Play.objects.select_for_update(of=("self",))
            .select_related("account", "assignee", "transition")
            .get(pk=escalation.play_id)
        )
        still_relevant = (
            play.is_open
            if escalation.kind == EscalationKind.ASSIGNED
            else play.status == PlayStatus.PENDING
        )
        if not still_relevant:
            escalation.status = EscalationStatus.SKIPPED
            escalation.note = (escalation.note + " " if escalation.note else "") + (
                f"Not sent: the play was {play.get_status_display().lower()} first."
            )
            escalation.save(update_fields=["status", "note"])
            return "skipped"
        try:
            send_notice(escalation, play, now)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = f"SMTP {max(codes, default=0)}: recipient refused {exc.recipients!r}"
            if codes and min(codes) >= 500:
                return _failed(escalation, error)
            return _retry(escalation, now, error)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                return _failed(escalation, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
            return _retry(escalation, now, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        except Exception as exc:  # connection refused, timeout, backend error: try again later
            return _retry(escalation, now, f"{type(exc).__name__}: {exc}")
        escalation.status = EscalationStatus.SENT
        escalation.sent_at = now
        escalation.last_error = ""
        escalation.save(update_fields=["status", "sent_at", "last_error"])
        logger.info("escalation %s of play %s sent", escalation.pk, play.pk)
        return "sent"


def _retry(escalation: Escalation, now: datetime, error: str) -> str:
    delay = min(timedelta(minutes=2 ** max(escalation.attempts - 1, 0)), MAX_BACKOFF)
    escalation.status = EscalationStatus.PENDING
    escalation.next_attempt_at = now + delay
    escalation.last_error = error[:2000]
    escalation.save(update_fields=["status", "next_attempt_at", "last_error"])
    # Only ids in logs: the error text can hold an address; it is kept on the row instead.
    logger.warning("escalation %s not sent; retry at %s", escalation.pk, now + delay)
    return "retrying"


def _failed(escalation: Escalation, error: str) -> str:
    escalation.status = EscalationStatus.FAILED
    escalation.next_attempt_at = None
    escalation.last_error = error[:2000]
    escalation.save(update_fields=["status", "next_attempt_at", "last_error"])
    logger.error("escalation %s failed permanently (SMTP refusal)", escalation.pk)
    return "failed"


def due_plays_query(now: datetime):
    """The sweep's plan query, exposed for the benchmark and EXPLAIN in docs."""
    return Play.objects.filter(Q(status=PlayStatus.PENDING) & Q(next_action_at__lte=now))
