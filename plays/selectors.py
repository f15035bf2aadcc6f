"""Read-only questions about plays: who may see or act on a play, whom a comment may
mention, what changed last. Nothing here writes; services, views, the API and the admin
ask these. The reports' figures are in `plays.reports`; who gets a play or a notice (from
the org chart and absences) is in `plays.routing`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from mqaflow.models import Owner

from .models import Play, PlayLogEntry, PlayStatus, PlayTemplate, SLAPolicy

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser
else:
    User = Any


def _owner_of(user: User) -> Owner | None:
    return getattr(user, "owner", None) if user.is_authenticated else None


def visible_plays(*, user: User) -> QuerySet[Play]:
    """Staff see all plays; an owner sees the plays of their whole subtree."""
    qs = Play.objects.all()
    if getattr(user, "is_staff", False):
        return qs
    owner = _owner_of(user)
    if owner is None:
        return qs.none()
    return qs.filter(assignee_id__in=owner.subtree_ids())


def can_manage(*, user: User, play: Play) -> bool:
    """Staff and the assignee's managers (anywhere up the chain) may reassign or dismiss."""
    if getattr(user, "is_staff", False):
        return True
    mine = _owner_of(user)
    return mine is not None and mine.pk in play.assignee.chain_ids()[1:]


def can_work(*, user: User, play: Play) -> bool:
    """Only the assignee starts, completes and (with an ADR reason) dismisses a play."""
    return user.is_authenticated and _owner_of(user) == play.assignee


def play_taken_away(*, user: User, pk: int) -> Play | None:
    """A play the user held before and can no longer see (moved to someone else)."""
    if visible_plays(user=user).filter(pk=pk).exists():
        return None
    owner = _owner_of(user)
    if owner is None:
        return None
    return (
        Play.objects.filter(pk=pk, log_entries__from_assignee=owner)
        .select_related("account")
        .distinct()
        .first()
    )


def reassign_choices(*, user: User) -> list[Owner]:
    """Whom a user may hand a play to: admins anyone active; a manager their own team
    (their subtree) and themselves."""
    qs = Owner.objects.filter(is_active=True).order_by("name")
    if getattr(user, "is_staff", False):
        return list(qs)
    owner = _owner_of(user)
    if owner is None:
        return []
    return list(qs.filter(pk__in=owner.subtree_ids()))


def mention_candidates(*, play: Play) -> list[Owner]:
    """Whom a comment on the play may @mention: the assignee's chain (them and their
    managers up to the top), their teammates (same manager) and their own reports."""
    assignee = play.assignee
    ids = set(assignee.chain_ids()) | assignee.subtree_ids()
    if assignee.manager_id:
        peers = Owner.objects.filter(manager_id=assignee.manager_id).values_list("pk", flat=True)
        ids |= set(peers)
    return list(Owner.objects.filter(pk__in=ids, is_active=True).order_by("name"))


def last_change(*, play: Play) -> PlayLogEntry | None:
    """The newest line of the play's log."""
    return play.log_entries.select_related("actor__owner").order_by("-at", "-pk").first()


def last_move_away(*, play: Play, owner: Owner) -> PlayLogEntry | None:
    """The log line that took the play away from `owner`, if it ever was theirs."""
    return (
        play.log_entries.filter(from_assignee=owner, kind="reassigned")
        .select_related("actor__owner", "to_assignee")
        .order_by("-at", "-pk")
        .first()
    )


def describe_change(*, entry: PlayLogEntry | None, play: Play) -> str:
    """ "Reassigned to Bo by Mia at Mon 2 Mar 10:15." — what a stale page missed."""
    if entry is None:
        return f"This play is {play.get_status_display().lower()}."
    who = ""
    if entry.actor is not None:
        owner = getattr(entry.actor, "owner", None)
        who = f" by {owner.name if owner else entry.actor.get_username()}"
    when = timezone.localtime(entry.at).strftime("%a %-d %b %H:%M")
    if entry.kind == "reassigned" and entry.to_assignee is not None:
        return f"This play was reassigned to {entry.to_assignee.name}{who} at {when}."
    label = {
        "dismissed": "dismissed",
        "withdrawn": "withdrawn",
        "started": "started",
        "completed": "completed",
        "reopened": "reopened",
    }.get(entry.kind, entry.kind.replace("_", " "))
    reason = f" ({entry.note})" if entry.note and entry.kind in ("dismissed", "withdrawn") else ""
    return f"This play was {label}{who} at {when}{reason}."


def pending_plays_of(*, policy: SLAPolicy) -> int:
    """How many waiting plays a change of this policy could re-plan (admin warning)."""
    return Play.objects.filter(policy=policy, status=PlayStatus.PENDING).count()


def template_for(*, funnel: int) -> PlayTemplate | None:
    """The first active play template for a funnel (an empty funnel list means all)."""
    for template in PlayTemplate.objects.filter(is_active=True).order_by("pk"):
        if not template.funnels or funnel in template.funnels:
            return template
    return None


def due_plays(*, now: datetime) -> QuerySet[Play]:
    """The sweep's plan query (pending plays whose next step is due), exposed for the
    benchmark and EXPLAIN in docs."""
    return Play.objects.filter(Q(status=PlayStatus.PENDING) & Q(next_action_at__lte=now))
