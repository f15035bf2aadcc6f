"""Read-only questions about plays: who may see or act on a play, whom a comment may
mention, what changed last. Nothing here writes; services, views, the API and the admin
ask these. The reports' figures are in `plays.reports`; who gets a play or a notice (from
the org chart and absences) is in `plays.routing`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from mqaflow.models import Account, Contact, EngagementEvent, Heartbeat, Opportunity, Owner
from mqaflow.models.choices import seniority_rank_expression

from .models import (
    DismissReason,
    Notice,
    NotificationPreference,
    Play,
    PlayComment,
    PlayLogEntry,
    PlayStatus,
    PlayTemplate,
    SLAPolicy,
)
from .templating import first_touch_email

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser
else:
    User = Any

# How long after a dismissal a manager may still take it back.
REOPEN_WINDOW = timedelta(days=7)
# The most engagement events a play's page lists.
TIMELINE_LIMIT = 200


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


def can_see(*, user: User, pk: int) -> bool:
    return visible_plays(user=user).filter(pk=pk).exists()


def plays_for_page(*, user: User) -> QuerySet[Play]:
    """The plays the user may open, with what a play's page shows in the same query."""
    return visible_plays(user=user).select_related(
        "account__owner",
        "assignee",
        "transition__rule",
        "transition__clause",
        "transition__act_now_rule",
        "template",
        "policy",
        "dismissed_reason",
    )


def plays_filtered(
    *,
    qs: QuerySet[Play],
    status: str | None = None,
    assignee_email: str | None = None,
    account_domain: str | None = None,
) -> QuerySet[Play]:
    """The API list's filters; emails and domains match whatever their case or spacing."""
    if status is not None:
        qs = qs.filter(status=status)
    if assignee_email is not None:
        qs = qs.filter(assignee__email=assignee_email.strip().lower())
    if account_domain is not None:
        qs = qs.filter(account__domain=account_domain.strip().lower())
    return qs


def can_manage(*, user: User, play: Play) -> bool:
    """Staff and the assignee's managers (anywhere up the chain) may reassign or dismiss."""
    if getattr(user, "is_staff", False):
        return True
    mine = _owner_of(user)
    return mine is not None and mine.pk in play.assignee.chain_ids()[1:]


def can_work(*, user: User, play: Play) -> bool:
    """Only the assignee starts, completes and (with an ADR reason) dismisses a play."""
    return user.is_authenticated and _owner_of(user) == play.assignee


def can_reopen(*, user: User, play: Play, now: datetime) -> bool:
    """A manager (or admin) may reopen a dismissed play within REOPEN_WINDOW."""
    return (
        play.status == PlayStatus.DISMISSED
        and play.dismissed_at is not None
        and now - play.dismissed_at <= REOPEN_WINDOW
        and can_manage(user=user, play=play)
    )


def is_manager(*, owner: Owner | None) -> bool:
    """Whether the owner has anyone reporting to them (they get the team board)."""
    return owner is not None and owner.reports.exists()


def has_plays(*, owner: Owner | None) -> bool:
    """Whether any play was ever assigned to the owner (their queue is worth landing on)."""
    return owner is not None and owner.plays.exists()


def team_ids(*, manager: Owner | None) -> set[int]:
    """The owners a manager watches (their subtree without themselves); None: everyone."""
    if manager is None:
        return set(Owner.objects.values_list("pk", flat=True))
    return manager.subtree_ids() - {manager.pk}


def team_plays(*, manager: Owner | None, assignee: int | None = None) -> QuerySet[Play]:
    """The plays on a manager's team board (None: everyone's), optionally one owner's."""
    qs = Play.objects.filter(assignee_id__in=team_ids(manager=manager))
    if assignee:
        qs = qs.filter(assignee_id=assignee)
    return qs


def team_visible_plays(*, user: User, manager: Owner | None) -> QuerySet[Play]:
    """The team board's plays that the user may also see (what a bulk action may touch)."""
    return visible_plays(user=user).filter(assignee_id__in=team_ids(manager=manager))


def chosen_plays(*, qs: QuerySet[Play], pks: list[int]) -> QuerySet[Play]:
    """The ticked plays among `qs`, in the order a bulk action's message names them."""
    return (
        qs.filter(pk__in=pks).select_related("account", "assignee").order_by("account__name", "pk")
    )


def owner_by_email(*, email: str) -> Owner | None:
    return Owner.objects.filter(email=email.lower()).first()


def owner_plays(*, owner: Owner | None) -> QuerySet[Play]:
    """The plays assigned to the owner now (none for a user who is not an owner)."""
    return Play.objects.filter(assignee=owner) if owner else Play.objects.none()


def plays_with_details(*, qs: QuerySet[Play]) -> QuerySet[Play]:
    """What the API's play representation reads, in a fixed order: no query per play."""
    return (
        qs.select_related("account", "assignee", "transition", "dismissed_reason")
        .prefetch_related(
            Prefetch("notices", Notice.objects.order_by("step")),
            Prefetch(
                "account__opportunities",
                Opportunity.objects.order_by("-created_at", "-pk"),
            ),
        )
        .order_by("due_at", "pk")
    )


def account_contacts(*, account: Account) -> QuerySet[Contact]:
    """The account's contacts by persona, then the most senior first (by SENIORITY_RANK,
    not by the seniority's spelling), then by name."""
    return account.contacts.order_by("persona", seniority_rank_expression(), "name")


def engagement_timeline(*, account: Account, limit: int = TIMELINE_LIMIT) -> list[EngagementEvent]:
    """The account's latest engagement events, newest first."""
    return list(
        EngagementEvent.objects.filter(account=account)
        .select_related("contact", "activity")
        .order_by("-occurred_at")[:limit]
    )


def play_comments(*, play: Play) -> list[PlayComment]:
    return list(play.comments.select_related("author__owner").prefetch_related("mentions"))


def play_history(
    *, play: Play, timeline: list[EngagementEvent], comments: list[PlayComment]
) -> list[tuple[str, datetime, Any]]:
    """One list, newest first: what the account's people did (engagement events), the
    play's own log, the notices it sent and the comments on it, as (kind, when, item)."""
    return sorted(
        [("engagement", e.occurred_at, e) for e in timeline]
        + [("log", entry.at, entry) for entry in play.log_entries.select_related("actor__owner")]
        + [
            ("notice", notice.sent_at or notice.created_at, notice)
            for notice in play.notices.select_related("recipient")
        ]
        + [("comment", c.created_at, c) for c in comments],
        key=lambda item: item[1],
        reverse=True,
    )


def draft_message(*, play: Play) -> str:
    """The message a play starts with when the ADR sends without typing: the play's own
    message if it has one, else its template's first-touch email."""
    _subject, body = first_touch_email(
        play=play, contacts=list(account_contacts(account=play.account))
    )
    return play.message or body


def heartbeats_by_name() -> dict[str, Heartbeat]:
    """When each periodic job last ran, by job name (the overview)."""
    return {h.name: h for h in Heartbeat.objects.all()}


def active_dismiss_reason(*, slug: str) -> DismissReason | None:
    return DismissReason.objects.filter(slug=slug, is_active=True).first()


def active_dismiss_reason_slugs() -> list[str]:
    """The reasons a dismissal may give now (the API's error message lists them)."""
    return list(DismissReason.objects.filter(is_active=True).values_list("slug", flat=True))


def notification_preference(*, owner: Owner) -> NotificationPreference:
    """The owner's saved preferences, or unsaved defaults for someone who never chose."""
    pref = NotificationPreference.objects.filter(owner=owner).first()
    return pref or NotificationPreference(owner=owner)


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


def mentions_parse(*, body: str, candidates: list[Owner]) -> list[Owner]:
    """The people a comment @mentions: "@Maya Chen", "@maya.chen" (the email's local part)
    or "@Maya" (a first name only if it is unambiguous among the candidates)."""
    text = body.casefold()
    firsts: dict[str, list[Owner]] = {}
    for owner in candidates:
        firsts.setdefault(owner.name.split(" ")[0].casefold(), []).append(owner)
    found: list[Owner] = []
    for owner in candidates:
        keys = [owner.name.casefold(), owner.email.split("@")[0].casefold()]
        first = owner.name.split(" ")[0].casefold()
        if len(firsts[first]) == 1:
            keys.append(first)
        for key in keys:
            if key and re.search(r"(?<![\w.])@" + re.escape(key) + r"(?![\w-])", text):
                found.append(owner)
                break
    return found


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
