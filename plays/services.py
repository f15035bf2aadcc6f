"""Creating plays and changing their status: the one place that enforces the rules.

Every status change locks the play row first. The escalation sweep locks the same row
while it hands an email to the mail backend, so "the ADR started the play" and "the
manager was emailed" can never interleave: whichever commits first wins cleanly.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mqaflow.models import Account, MQATransition, Owner

from .deadlines import add_sla_hours
from .models import (
    OPEN_STATUSES,
    DismissReason,
    Escalation,
    EscalationKind,
    Play,
    PlayEvent,
    PlayStatus,
    PlayTemplate,
    SLAPolicy,
)
from .routing import assignee_for

logger = logging.getLogger(__name__)

# Allowed status changes: from → {to}. Anything else is a PlayTransitionError (HTTP 409).
TRANSITIONS: dict[str, set[str]] = {
    PlayStatus.PENDING: {PlayStatus.STARTED, PlayStatus.DISMISSED},
    PlayStatus.STARTED: {PlayStatus.COMPLETED, PlayStatus.DISMISSED},
    PlayStatus.COMPLETED: set(),
    PlayStatus.DISMISSED: set(),
}

ASSIGNED_STEP = 0
REMINDER_STEP = 1


class PlayTransitionError(Exception):
    """A status change the play's current status does not allow."""


class PlayPermissionError(Exception):
    """The user may not do this to this play."""


def build_plan(policy: SLAPolicy, created_at: datetime) -> tuple[datetime, datetime, list[dict]]:
    """Freeze the policy's deadlines for a play created at `created_at`."""
    due_at = add_sla_hours(created_at, policy.response_hours, policy=policy)
    remind_at = add_sla_hours(
        created_at, policy.response_hours * policy.reminder_percent / 100, policy=policy
    )
    plan = [
        {
            "step": REMINDER_STEP,
            "kind": EscalationKind.REMINDER,
            "at": remind_at.isoformat(),
            "levels_up": 0,
            "to_top": False,
            "label": "reminder to the assignee",
        }
    ]
    for number, step in enumerate(policy.steps.order_by("after_hours"), start=REMINDER_STEP + 1):
        plan.append(
            {
                "step": number,
                "kind": EscalationKind.ESCALATION,
                "at": add_sla_hours(created_at, step.after_hours, policy=policy).isoformat(),
                "levels_up": step.levels_up or 0,
                "to_top": step.to_top,
                "label": step.target_label,
            }
        )
    return due_at, remind_at, plan


def first_at(plan: list[dict]) -> datetime | None:
    """The earliest moment of a plan's entries (None for an empty plan)."""
    return min((parse_datetime(p["at"]) for p in plan), default=None)


def template_for(funnel: int) -> PlayTemplate | None:
    for template in PlayTemplate.objects.filter(is_active=True).order_by("pk"):
        if not template.funnels or funnel in template.funnels:
            return template
    return None


def play_create(
    *, account: Account, transition: MQATransition, now: datetime | None = None
) -> Play | None:
    """Create the play for a qualification, in the caller's transaction (the transition's).

    Returns None when the account already has an open play or its funnel has no policy.
    """
    now = now or transition.at or timezone.now()
    policy = SLAPolicy.objects.filter(funnel=transition.funnel).first()
    if policy is None:
        return None
    if Play.objects.filter(account=account, status__in=OPEN_STATUSES).exists():
        return None
    routing = assignee_for(account, policy, now)
    if routing.owner is None:  # no owner exists at all: nothing to assign to
        logger.error("no owner to assign the play of account %s to", account.pk)
        return None
    due_at, remind_at, plan = build_plan(policy, now)
    try:
        with transaction.atomic():
            play = Play.objects.create(
                account=account,
                transition=transition,
                template=template_for(transition.funnel),
                assignee=routing.owner,
                created_at=now,
                due_at=due_at,
                remind_at=remind_at,
                policy=policy,
                policy_version=policy.version,
                plan=plan,
                next_action_at=first_at(plan),
            )
    except IntegrityError:  # a concurrent qualification created the open play first
        return None
    PlayEvent.objects.create(
        play=play,
        at=now,
        kind="created",
        to_status=PlayStatus.PENDING,
        note=" ".join([f"Assigned to {routing.owner.name}.", *routing.notes]),
    )
    notice = Escalation.objects.create(
        play=play,
        step=ASSIGNED_STEP,
        kind=EscalationKind.ASSIGNED,
        level=0,
        recipient=routing.owner,
        recipient_email=routing.owner.email,
        due_at=now,
        next_attempt_at=now,
        created_at=now,
        note=" ".join(routing.notes),
    )
    _deliver_after_commit(notice)
    return play


def _deliver_after_commit(escalation: Escalation) -> None:
    """Send the notice right after commit; if the message is lost the sweep sends it."""
    from mqaflow.broker import publish

    from .tasks import deliver_escalation

    transaction.on_commit(partial(publish, deliver_escalation, escalation.pk))


def _change_status(play: Play, to: str, *, by, now: datetime, note: str = "", **fields) -> Play:
    locked = Play.objects.select_for_update().get(pk=play.pk)
    if to not in TRANSITIONS[locked.status]:
        raise PlayTransitionError(
            f"This play is {locked.get_status_display().lower()}; it cannot be "
            f"{PlayStatus(to).label.lower()}."
        )
    old = locked.status
    locked.status = to
    for name, value in fields.items():
        setattr(locked, name, value)
    if to != PlayStatus.PENDING:
        locked.next_action_at = None
    locked.save()
    PlayEvent.objects.create(
        play=locked, at=now, actor=by, kind=to, from_status=old, to_status=to, note=note
    )
    return locked


def _is_manager_of(user, owner: Owner) -> bool:
    mine = getattr(user, "owner", None) if user.is_authenticated else None
    return mine is not None and mine.pk in owner.chain_ids()[1:]


def can_manage(user, play: Play) -> bool:
    """Staff and the assignee's managers (anywhere up the chain) may reassign or dismiss."""
    return user.is_staff or _is_manager_of(user, play.assignee)


def can_work(user, play: Play) -> bool:
    """Only the assignee starts and completes a play."""
    return user.is_authenticated and getattr(user, "owner", None) == play.assignee


def visible_plays(user):
    """Staff see all plays; an owner sees the plays of their whole subtree."""
    qs = Play.objects.all()
    if user.is_staff:
        return qs
    owner = getattr(user, "owner", None)
    if owner is None:
        return qs.none()
    return qs.filter(assignee_id__in=owner.subtree_ids())


@transaction.atomic
def play_start(*, play: Play, by, message: str | None = None, now: datetime | None = None) -> Play:
    if not can_work(by, play):
        raise PlayPermissionError("Only the assignee can start this play.")
    now = now or timezone.now()
    fields = {"started_at": now}
    if message is not None:
        fields["message"] = message
    return _change_status(play, PlayStatus.STARTED, by=by, now=now, **fields)


@transaction.atomic
def play_complete(*, play: Play, by, now: datetime | None = None) -> Play:
    if not can_work(by, play):
        raise PlayPermissionError("Only the assignee can complete this play.")
    now = now or timezone.now()
    return _change_status(play, PlayStatus.COMPLETED, by=by, now=now, completed_at=now)


@transaction.atomic
def play_dismiss(
    *, play: Play, by, reason: DismissReason, note: str = "", now: datetime | None = None
) -> Play:
    if not can_manage(by, play):
        raise PlayPermissionError("Only the assignee's managers and admins can dismiss a play.")
    now = now or timezone.now()
    return _change_status(
        play,
        PlayStatus.DISMISSED,
        by=by,
        now=now,
        note=f"{reason.label}. {note}".strip(),
        dismissed_at=now,
        dismissed_reason=reason,
        dismissed_note=note,
    )


@transaction.atomic
def play_reassign(*, play: Play, by, to_owner: Owner, now: datetime | None = None) -> Play:
    """Give the play to someone else; the SLA clock keeps running unless the
    MQAFLOW_REASSIGN_SLA_CLOCK setting says "restart" (then the plan is rebuilt from now)."""
    if not can_manage(by, play):
        raise PlayPermissionError("Only the assignee's managers and admins can reassign a play.")
    if not to_owner.is_active:
        raise PlayTransitionError(f"{to_owner.name} is inactive.")
    now = now or timezone.now()
    locked = Play.objects.select_for_update().get(pk=play.pk)
    if not locked.is_open:
        raise PlayTransitionError("Only open plays can be reassigned.")
    if locked.assignee_id == to_owner.pk:
        raise PlayTransitionError(f"The play is already assigned to {to_owner.name}.")
    previous = locked.assignee
    locked.assignee = to_owner
    note = f"Reassigned from {previous.name} to {to_owner.name}."
    if getattr(settings, "MQAFLOW_REASSIGN_SLA_CLOCK", "keep") == "restart" and (
        locked.status == PlayStatus.PENDING
    ):
        # The steps already sent stay on record; the unsent ones are re-planned from now.
        sent_steps = set(locked.escalations.values_list("step", flat=True))
        due_at, remind_at, plan = build_plan(locked.policy, now)
        offset = max(sent_steps, default=0)
        locked.plan = [{**p, "step": p["step"] + offset} for p in plan]
        locked.due_at, locked.remind_at = due_at, remind_at
        locked.next_action_at = first_at(locked.plan)
        note += " The SLA clock restarted."
    else:
        note += " The SLA clock keeps running."
    locked.save()
    PlayEvent.objects.create(
        play=locked,
        at=now,
        actor=by,
        kind="reassigned",
        note=note,
        from_status=locked.status,
        to_status=locked.status,
    )
    return locked


@transaction.atomic
def plays_replan(*, policy: SLAPolicy, now: datetime | None = None) -> int:
    """Re-plan open plays of a policy on purpose (admin action): new deadlines from the
    current policy, measured from each play's creation; steps already sent stay sent."""
    now = now or timezone.now()
    count = 0
    for play in Play.objects.select_for_update().filter(policy=policy, status__in=OPEN_STATUSES):
        due_at, remind_at, plan = build_plan(policy, play.created_at)
        done = set(play.escalations.values_list("step", flat=True))
        play.due_at, play.remind_at, play.plan = due_at, remind_at, plan
        play.policy_version = policy.version
        undone = [p for p in plan if p["step"] not in done]
        play.next_action_at = first_at(undone) if play.status == PlayStatus.PENDING else None
        play.save()
        PlayEvent.objects.create(
            play=play, at=now, kind="replanned", note=f"Re-planned under policy v{policy.version}."
        )
        count += 1
    return count
