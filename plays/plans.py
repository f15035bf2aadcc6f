"""A play's plan: the deadlines and notice steps frozen from its SLA policy when its clock
starts, and the unsaved play they belong to. Pure: nothing here reads or writes rows
except the policy's steps."""

from __future__ import annotations

from datetime import datetime

from mqaflow.models import Account, MQATransition, Owner

from .deadlines import add_sla_hours
from .models import NoticeKind, Play, PlayStatus, PlayTemplate, SLAPolicy

# The assignment notice is step 0; a plan starts with the reminder.
REMINDER_STEP = 1


def plan_build(
    *, policy: SLAPolicy, start: datetime, first_step: int = REMINDER_STEP
) -> tuple[datetime, datetime, list[dict]]:
    """Freeze the policy's deadlines for a play created (or restarted) at `start`.

    `first_step` numbers the entries after the steps a play already has on record."""
    due_at = add_sla_hours(start, policy.response_hours, policy=policy)
    remind_at = add_sla_hours(
        start, policy.response_hours * policy.reminder_percent / 100, policy=policy
    )
    plan = [
        {
            "step": first_step,
            "kind": NoticeKind.REMINDER,
            "at": remind_at.isoformat(),
            "levels_up": 0,
            "to_top": False,
            "label": "reminder to the assignee",
        }
    ]
    for number, step in enumerate(policy.steps.order_by("after_hours"), start=first_step + 1):
        plan.append(
            {
                "step": number,
                "kind": NoticeKind.ESCALATION,
                "at": add_sla_hours(start, step.after_hours, policy=policy).isoformat(),
                "levels_up": step.levels_up or 0,
                "to_top": step.to_top,
                "label": step.target_label,
                "urgent": step.urgent,
            }
        )
    return due_at, remind_at, plan


def plan_first_at(*, plan: list[dict]) -> datetime | None:
    """The earliest moment of a plan's entries (None for an empty plan)."""
    return min((datetime.fromisoformat(p["at"]) for p in plan), default=None)


def play_build(
    *,
    transition: MQATransition,
    account: Account,
    owner: Owner,
    policy: SLAPolicy,
    planned: tuple[datetime, datetime, list[dict]],
    template: PlayTemplate | None,
) -> Play:
    """An unsaved pending play for a qualification, its clock started at the transition."""
    due_at, remind_at, plan = planned
    return Play(
        account=account,
        transition=transition,
        template=template,
        assignee=owner,
        status=PlayStatus.PENDING,
        created_at=transition.at,
        clock_started_at=transition.at,
        due_at=due_at,
        remind_at=remind_at,
        policy=policy,
        policy_version=policy.version,
        plan=plan,
        next_action_at=plan_first_at(plan=plan),
    )
