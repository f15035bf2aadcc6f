"""Where plays move between people: reassignment by a manager, a new account owner, an
owner who leaves, an absence that begins.

Every move goes through `play_move`: the play row is locked, the SLA clock follows
`MQAFLOW_REASSIGN_SLA_CLOCK` ("keep", the documented default, or "restart"), unsent
notices addressed to the previous assignee are cancelled, the history line says why, and
the new assignee gets a "play assigned to you" notice at once.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mqaflow.models import Account, Owner

from .models import OPEN_STATUSES, OwnerAbsence, Play, PlayLogEntry, PlayStatus
from .routing import assignee_for, successor_of
from .selectors import can_manage, describe_change, last_change
from .services import (
    PlayConflict,
    PlayPermissionError,
    PlayTransitionError,
    notice_assigned_create,
    notices_cancel,
    play_clock_restart,
)
from .signals import play_changed


def play_move(*, play: Play, to_owner: Owner, by, now: datetime, why: str) -> Play:
    """Give a locked open play to `to_owner` (caller's transaction)."""
    previous = play.assignee
    play.assignee = to_owner
    note = f"{why} Moved from {previous.name} to {to_owner.name}."
    restart = getattr(settings, "MQAFLOW_REASSIGN_SLA_CLOCK", "keep") == "restart"
    if restart and play.status == PlayStatus.PENDING:
        notices_cancel(play=play, why="Not sent: the SLA clock restarted after a reassignment.")
        play_clock_restart(play=play, start=now)
        note += " The SLA clock restarted."
    else:
        notices_cancel(
            play=play, why=f"Not sent: the play moved to {to_owner.name}.", recipient_id=previous.pk
        )
        note += " The SLA clock keeps running."
    play.save()
    PlayLogEntry.objects.create(
        play=play,
        at=now,
        actor=by if by is not None and by.is_authenticated else None,
        kind="reassigned",
        note=note,
        from_status=play.status,
        to_status=play.status,
        from_assignee=previous,
        to_assignee=to_owner,
    )
    notice_assigned_create(play=play, now=now, note=why)
    play_changed.send(sender=Play, play=play, kind="reassigned", at=now, by=by, note=note)
    return play


def _locked_open(play: Play) -> Play:
    locked = (
        Play.objects.select_for_update(of=("self",))
        .select_related("assignee", "account", "policy")
        .get(pk=play.pk)
    )
    if locked.status not in OPEN_STATUSES:
        raise PlayConflict(describe_change(entry=last_change(play=locked), play=locked))
    return locked


@transaction.atomic
def play_reassign(*, play: Play, by, to_owner: Owner, now: datetime | None = None) -> Play:
    """A manager (within their team) or an admin hands a play to someone else."""
    locked = Play.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=play.pk)
    if not can_manage(user=by, play=locked):
        raise PlayPermissionError("Only the assignee's managers and admins can reassign a play.")
    if not to_owner.is_active:
        raise PlayTransitionError(f"{to_owner.name} is inactive.")
    if not by.is_staff and to_owner.pk not in by.owner.subtree_ids():
        raise PlayPermissionError(
            f"You can reassign within your own team only; {to_owner.name} is not in it."
        )
    locked = _locked_open(locked)
    if locked.assignee_id == to_owner.pk:
        raise PlayTransitionError(f"The play is already assigned to {to_owner.name}.")
    now = now or timezone.now()
    return play_move(play=locked, to_owner=to_owner, by=by, now=now, why="Reassigned.")


def plays_follow_owner(*, account: Account, by=None, now: datetime | None = None) -> Play | None:
    """The account's owner changed: its open play goes to the new owner (or, if they
    cannot take it, wherever a new play would be routed)."""
    now = now or timezone.now()
    play = (
        Play.objects.select_for_update(of=("self",))
        .select_related("assignee", "policy")
        .filter(account=account, status__in=OPEN_STATUSES)
        .first()
    )
    if play is None:
        return None
    routing = assignee_for(account=account, policy=play.policy, at=now)
    if routing.owner is None or routing.owner.pk == play.assignee_id:
        return None
    new_owner = account.owner.name if account.owner else "nobody"
    why = " ".join([f"The account's owner changed to {new_owner}.", *routing.notes])
    return play_move(play=play, to_owner=routing.owner, by=by, now=now, why=why)


def plays_follow_deactivation(*, owner: Owner, by=None, now: datetime | None = None) -> int:
    """An owner left: their open plays go to their delegate, else their manager."""
    now = now or timezone.now()
    plays = list(
        Play.objects.select_for_update(of=("self",))
        .select_related("assignee", "policy", "account")
        .filter(assignee=owner, status__in=OPEN_STATUSES)
        .order_by("pk")
    )
    for play in plays:
        routing = successor_of(owner=owner, at=now, policy=play.policy)
        if routing.owner is None:
            continue
        why = " ".join([f"{owner.name} was deactivated.", *routing.notes])
        play_move(play=play, to_owner=routing.owner, by=by, now=now, why=why)
    return len(plays)


def absences_apply(*, now: datetime | None = None) -> int:
    """Absences that have begun: the away owner's pending plays go to the delegate, else
    the manager; each absence is applied once (`applied_at`)."""
    now = now or timezone.now()
    moved = 0
    with transaction.atomic():
        due = (
            OwnerAbsence.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(applied_at__isnull=True, starts_at__lte=now, ends_at__gt=now)
            .select_related("owner", "delegate")
        )
        for absence in due:
            owner = absence.owner
            plays = (
                Play.objects.select_for_update(of=("self",))
                .select_related("assignee", "policy", "account")
                .filter(assignee=owner, status=PlayStatus.PENDING)
                .order_by("pk")
            )
            for play in plays:
                routing = successor_of(owner=owner, at=now, policy=play.policy, absence=absence)
                if routing.owner is None:
                    continue
                why = " ".join(
                    [f"{owner.name} is away until {absence.ends_at:%Y-%m-%d}.", *routing.notes]
                )
                play_move(play=play, to_owner=routing.owner, by=None, now=now, why=why)
                moved += 1
            absence.applied_at = now
            absence.save(update_fields=["applied_at"])
    return moved
