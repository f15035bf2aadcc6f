"""Where escalations happen: the sweep that plans due steps and delivers every due
notice (new play, reminder, escalation step, mention), once.

Each sweep (beat, every minute) runs, in short transactions:

0. Housekeeping that changes who should hear of what: absences that began move the away
   owner's pending plays (`plays.assignment.absences_apply`); plays whose withdrawal grace
   period ended are withdrawn (`plays.services.plays_withdraw_due`).
1. Plan. Pending plays whose `next_action_at` has passed (a partial index keeps this
   proportional to the number due) are locked with SKIP LOCKED; every plan entry now due
   becomes a `Notice` row, in ladder order, with its recipient resolved from the chain
   as it stands now. The (play, kind, step) unique constraint makes a second sweep's
   insert a no-op.
2. Deliver, one recipient at a time. The recipient's due rows are claimed (`pending` →
   `sending`, SKIP LOCKED) at the moment their send starts, the plays are locked and
   re-checked (a play started first gets no email), and one email goes out: the notice
   itself, or a digest listing every play when several are due to the same person (the
   CEO at 72 h gets one message with 22 rows, not 22 messages). All rows are marked sent
   in one transaction. Failures go back to `pending` with exponential backoff; SMTP 5xx
   is `failed`. The sweep stops claiming when its time budget is spent, well inside the
   task's soft time limit, so nothing claimed waits behind other sends.

`--dry-run` (`escalations_sweep(dry_run=True)`) runs these same steps in one transaction
that is rolled back, without handing anything to the mail backend.

Delivery policy for a crash between the SMTP server accepting a message and the rows being
marked sent: at-least-once with at most one duplicate. A row left in `sending` longer than
`MQAFLOW_STALE_CLAIM_SECONDS` (10 minutes; a claim covers one send bounded by
EMAIL_TIMEOUT) is resent once; if that also dies it is marked `unknown` and admins are
told. A send interrupted by the soft time limit goes back to `pending` at once.
"""

from __future__ import annotations

import logging
import math
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mqaflow.heartbeat import heartbeat

from .channels import notice_defer
from .claims import release_stale_claims
from .models import Notice, NoticeKind, NoticeStatus, Play, PlayStatus
from .notifications import notices_send
from .routing import absences_at, escalation_recipient
from .signals import notices_sent

logger = logging.getLogger(__name__)

BATCH = 200
# Rows of one recipient sent in one digest (more go in the next email of the same sweep).
DIGEST_MAX = 100
MAX_BACKOFF = timedelta(hours=1)
SWEEP_NAME = "escalations_sweep"


@dataclass
class NoticeOutcome:
    """What a sweep did (or, in a dry run, would do) with one notice."""

    play_id: int
    step: int
    kind: str
    recipient_email: str
    # "sent", "skipped", "waiting" (for the recipient's digest or quiet hours), "retrying",
    # "failed" or "later" (left for the next sweep when the time budget ran out).
    outcome: str
    note: str = ""
    at: datetime | None = None  # when a waiting notice is due to go


@dataclass
class SweepResult:
    planned: list[Notice] = field(default_factory=list)
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0
    emails: int = 0
    moved: int = 0
    withdrawn: int = 0
    dry_run: bool = False
    # Every notice planned or delivered by this sweep, in (play, step, kind) order.
    outcomes: list[NoticeOutcome] = field(default_factory=list)


def sweep_budget() -> float:
    """Seconds a sweep may keep claiming: its soft time limit minus two sends' worth."""
    if settings.MQAFLOW_SWEEP_BUDGET_SECONDS is not None:
        return float(settings.MQAFLOW_SWEEP_BUDGET_SECONDS)
    soft = settings.CELERY_TASK_SOFT_TIME_LIMIT or 300
    return float(max(soft - 2 * settings.EMAIL_TIMEOUT - 10, 10))


def escalations_sweep(
    *, now: datetime | None = None, dry_run: bool = False, budget: float | None = None
) -> SweepResult:
    """Plan every due step and deliver every due notice; safe to run concurrently.

    A dry run is the same sweep, every due play and every due notice, in one transaction
    that is rolled back at the end, with the mail backend left out: it reports exactly what
    the real sweep would do now (moves, withdrawals, who is told, who is skipped and why,
    what waits for a digest) and keeps nothing. It holds the due plays' locks while it runs,
    so a real sweep meanwhile skips them until the next minute."""
    now = now or timezone.now()
    if dry_run:
        result = SweepResult(dry_run=True)
        with transaction.atomic():
            _sweep(now, result, deadline=math.inf)
            transaction.set_rollback(True)
        return result
    deadline = time.monotonic() + (sweep_budget() if budget is None else budget)
    with heartbeat(SWEEP_NAME, now=now):
        result = SweepResult()
        _sweep(now, result, deadline=deadline)
    return result


def _sweep(now: datetime, result: SweepResult, *, deadline: float) -> None:
    """The sweep's steps, shared by the real run and the dry run."""
    from .assignment import absences_apply
    from .services import plays_withdraw_due

    result.moved = absences_apply(now=now)
    result.withdrawn = plays_withdraw_due(now=now)
    result.planned = _plan_due(now)
    _release_stale_claims(now, tell_admins=not result.dry_run)
    delivered: dict[tuple[int, str, int], NoticeOutcome] = {}
    _deliver_due(now, result, deadline, delivered)
    result.outcomes = _outcomes(result.planned, delivered, now)


def _outcomes(
    planned: list[Notice], delivered: dict[tuple[int, str, int], NoticeOutcome], now: datetime
) -> list[NoticeOutcome]:
    """Planned rows as they ended: skipped when planned, waiting for their recipient's
    digest or quiet hours, delivered (or not) in this sweep, or left for the next one."""
    found = dict(delivered)
    for row in planned:
        key = (row.play_id, row.kind, row.step)
        if key in found:
            continue
        if row.status == NoticeStatus.SKIPPED:
            outcome, at = "skipped", None
        elif row.next_attempt_at is not None and row.next_attempt_at > now:
            outcome, at = "waiting", row.next_attempt_at
        else:
            outcome, at = "later", None
        found[key] = NoticeOutcome(
            row.play_id, row.step, row.kind, row.recipient_email, outcome, row.note, at
        )
    return sorted(found.values(), key=lambda o: (o.play_id, o.step, o.kind))


# --- plan --------------------------------------------------------------------------------


def _plan_due(now: datetime) -> list[Notice]:
    """Plan every due step of every due play, a batch of plays per short transaction."""
    planned: list[Notice] = []
    while True:
        with transaction.atomic():
            query = (
                Play.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=PlayStatus.PENDING, next_action_at__lte=now)
                .select_related("assignee")
                .order_by("next_action_at", "pk")
            )
            plays = list(query[:BATCH])
            if not plays:
                return planned
            planned.extend(_plan_plays(plays, now))


def _plan_plays(plays: list[Play], now: datetime) -> list[Notice]:
    existing: dict[int, dict[int, Notice]] = {p.pk: {} for p in plays}
    for row in Notice.objects.filter(play__in=plays).exclude(
        kind__in=[NoticeKind.ASSIGNED, NoticeKind.MENTION]
    ):
        existing[row.play_id][row.step] = row
    rows: list[Notice] = []
    context = {"chains": {}, "absences": absences_at(at=now)}
    for play in plays:
        done = existing[play.pk]
        # Only this clock's ladder counts: after a reopen or a restart, a manager told
        # about the earlier breach is told again about the new one.
        first_step = min((e["step"] for e in play.plan), default=0)
        alerted = {
            r.recipient_id
            for r in done.values()
            if r.kind == NoticeKind.ESCALATION
            and r.step >= first_step
            and r.status not in (NoticeStatus.SKIPPED, NoticeStatus.CANCELLED)
        }
        upcoming = []
        for entry in sorted(play.plan, key=lambda e: e["step"]):
            at = datetime.fromisoformat(entry["at"])
            if entry["step"] in done:
                continue
            if at > now:
                upcoming.append(at)
                continue
            row = _planned_row(play, entry, at, now, alerted, context)
            notice_defer(notice=row, entry=entry, context=context)  # digest, quiet hours
            done[row.step] = row
            rows.append(row)
        play.next_action_at = min(upcoming, default=None)
    Notice.objects.bulk_create(rows, ignore_conflicts=True)
    Play.objects.bulk_update(plays, ["next_action_at"])
    return rows


def _planned_row(
    play: Play, entry: dict, at: datetime, now: datetime, alerted: set, context: dict
) -> Notice:
    row = Notice(
        play=play,
        step=entry["step"],
        kind=entry["kind"],
        due_at=at,
        next_attempt_at=now,
        created_at=now,
    )
    if entry["kind"] == NoticeKind.REMINDER:
        row.recipient, row.level = play.assignee, 0
        row.recipient_email = play.assignee.email
        return row
    chains = context["chains"]
    if play.assignee_id not in chains:
        chains[play.assignee_id] = play.assignee.managers()
    found = escalation_recipient(
        assignee=play.assignee,
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
        row.status = NoticeStatus.SKIPPED
    elif found.owner.pk in alerted:
        row.status = NoticeStatus.SKIPPED
        notes.append(f"{found.owner.name} was already alerted about this play.")
    else:
        alerted.add(found.owner.pk)
    row.note = " ".join(notes)
    if row.status == NoticeStatus.SKIPPED:
        row.next_attempt_at = None
    return row


# --- deliver -----------------------------------------------------------------------------


def _release_stale_claims(due: datetime, *, tell_admins: bool = True) -> None:
    """Rows stuck in `sending`: the worker died mid-send. Resend once (due in this sweep),
    then give up loudly."""
    release_stale_claims(
        Notice,
        tell_admins=tell_admins,
        resend_at=min(timezone.now(), due),
        resend_note="The worker stopped mid-send; resending once (the recipient may get two).",
        unknown_note="The worker stopped mid-send twice; not sent again. Check the mail log.",
        what="email notice",
    )


def _claim_next_group(now: datetime) -> list[int]:
    """Claim the due rows of the next recipient, stamped with the real time the send
    starts (a claim never waits behind other sends)."""
    due = Q(status=NoticeStatus.PENDING, next_attempt_at__lte=now)
    with transaction.atomic():
        first = (
            Notice.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("due_at", "play_id", "step")
            .values_list("recipient_email", flat=True)
            .first()
        )
        if first is None:
            return []
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(due, recipient_email=first)
            .order_by("due_at", "play_id", "step")
            .values_list("pk", flat=True)[:DIGEST_MAX]
        )
        Notice.objects.filter(pk__in=ids).update(
            status=NoticeStatus.SENDING,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    return ids


def _deliver_due(
    now: datetime,
    result: SweepResult,
    deadline: float,
    outcomes: dict[tuple[int, str, int], NoticeOutcome],
) -> None:
    while time.monotonic() < deadline and (ids := _claim_next_group(now)):
        outcome = notices_deliver_claimed(
            notice_ids=ids, now=now, dry_run=result.dry_run, outcomes=outcomes
        )
        for name, count in outcome.items():
            setattr(result, name, getattr(result, name) + count)
        result.emails += 1 if outcome.get("sent") else 0


def notice_claim(*, notice_id: int, now: datetime | None = None) -> bool:
    """Claim one pending notice for immediate delivery (after a play is created)."""
    now = now or timezone.now()
    return bool(
        Notice.objects.filter(
            pk=notice_id, status=NoticeStatus.PENDING, next_attempt_at__lte=now
        ).update(
            status=NoticeStatus.SENDING,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    )


def notices_retry(*, notice_ids: list[int], now: datetime) -> int:
    """An admin's "retry now": failed notices and those a crash left unknown go back to
    pending, due at `now`, for the next sweep to send. Returns how many were reset."""
    return Notice.objects.filter(
        pk__in=notice_ids, status__in=[NoticeStatus.FAILED, NoticeStatus.UNKNOWN]
    ).update(status=NoticeStatus.PENDING, next_attempt_at=now, last_error="")


def _still_relevant(notice: Notice, play: Play) -> bool:
    if notice.recipient is not None and not notice.recipient.is_active:
        return False  # deactivated since the step was planned
    if notice.kind == NoticeKind.MENTION:  # a comment is news whatever the status
        return True
    if notice.kind == NoticeKind.ASSIGNED:
        return play.is_open and play.assignee_id == notice.recipient_id
    return play.status == PlayStatus.PENDING


def notices_deliver_claimed(
    *,
    notice_ids: int | list[int],
    now: datetime | None = None,
    dry_run: bool = False,
    outcomes: dict[tuple[int, str, int], NoticeOutcome] | None = None,
) -> dict[str, int]:
    """Send claimed notices of one recipient as one email, under their plays' row locks
    (a dry run decides the same way and marks the rows, but leaves the mail backend out).

    Returns counts by outcome ({"sent": n, "skipped": n, …}); `outcomes` collects each
    notice's."""
    now = now or timezone.now()
    ids = [notice_ids] if isinstance(notice_ids, int) else list(notice_ids)
    try:
        return _deliver(ids, now, dry_run=dry_run, outcomes={} if outcomes is None else outcomes)
    except SoftTimeLimitExceeded:
        # Interrupted before the server confirmed: back to pending for the next sweep
        # (the send's transaction was rolled back, so the rows are still `sending`).
        Notice.objects.filter(pk__in=ids, status=NoticeStatus.SENDING).update(
            status=NoticeStatus.PENDING,
            next_attempt_at=now,
            last_error="Interrupted by the sweep's time limit; sent by the next sweep.",
        )
        raise


def _record(outcomes: dict[tuple[int, str, int], NoticeOutcome], row: Notice, outcome: str) -> None:
    outcomes[(row.play_id, row.kind, row.step)] = NoticeOutcome(
        row.play_id, row.step, row.kind, row.recipient_email, outcome, row.note
    )


def _deliver(
    ids: list[int],
    now: datetime,
    *,
    dry_run: bool,
    outcomes: dict[tuple[int, str, int], NoticeOutcome],
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with transaction.atomic():
        rows = list(
            Notice.objects.select_related("recipient")
            .filter(pk__in=ids, status=NoticeStatus.SENDING)
            .order_by("due_at", "play_id", "step")
        )
        plays = {
            p.pk: p
            for p in Play.objects.select_for_update(of=("self",))
            .select_related("account", "assignee", "transition")
            .filter(pk__in={r.play_id for r in rows})
            .order_by("pk")
        }
        sendable = []
        for row in rows:
            play = plays[row.play_id]
            if _still_relevant(row, play):
                sendable.append((row, play))
                continue
            row.status = NoticeStatus.SKIPPED
            row.note = (row.note + " " if row.note else "") + (
                f"Not sent: {row.recipient.name} was deactivated."
                if row.recipient is not None and not row.recipient.is_active
                else f"Not sent: the play was {play.get_status_display().lower()} first."
                if row.kind != NoticeKind.ASSIGNED or not play.is_open
                else "Not sent: the play moved to someone else first."
            )
            row.save(update_fields=["status", "note"])
            counts["skipped"] = counts.get("skipped", 0) + 1
            _record(outcomes, row, "skipped")
        if not sendable:
            return counts
        outcome = _send(sendable, now, dry_run=dry_run)
        counts[outcome] = counts.get(outcome, 0) + len(sendable)
        for row, _ in sendable:
            _record(outcomes, row, outcome)
    return counts


def _send(sendable: list[tuple[Notice, Play]], now: datetime, *, dry_run: bool = False) -> str:
    rows = [row for row, _ in sendable]
    try:
        if not dry_run:
            notices_send(notices=sendable, now=now)
    except SoftTimeLimitExceeded:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = f"SMTP {max(codes, default=0)}: recipient refused {exc.recipients!r}"
        if codes and min(codes) >= 500:
            return _failed(rows, error)
        return _retry(rows, now, error)
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            return _failed(rows, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        return _retry(rows, now, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    except Exception as exc:  # connection refused, timeout, backend error: try again later
        return _retry(rows, now, f"{type(exc).__name__}: {exc}")
    _mark_sent(rows, now)
    logger.info("notices %s sent in one email", [r.pk for r in rows])
    return "sent"


def _mark_sent(rows: list[Notice], now: datetime) -> None:
    Notice.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=NoticeStatus.SENT, sent_at=now, last_error=""
    )
    notices_sent.send(sender=Notice, notices=rows, at=now)


def _mark(rows: list[Notice], *, status: str, next_attempt_at, error: str) -> None:
    Notice.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=status, next_attempt_at=next_attempt_at, last_error=error[:2000]
    )


def _retry(rows: list[Notice], now: datetime, error: str) -> str:
    attempts = max(r.attempts for r in rows)
    delay = min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    _mark(rows, status=NoticeStatus.PENDING, next_attempt_at=now + delay, error=error)
    # Only ids in logs: the error text can hold an address; it is kept on the row instead.
    logger.warning("notices %s not sent; retry at %s", [r.pk for r in rows], now + delay)
    return "retrying"


def _failed(rows: list[Notice], error: str) -> str:
    _mark(rows, status=NoticeStatus.FAILED, next_attempt_at=None, error=error)
    logger.error("notices %s failed permanently (SMTP refusal)", [r.pk for r in rows])
    return "failed"
