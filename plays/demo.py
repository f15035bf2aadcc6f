"""The plays' part of the demo (mqaflow/demo.py seeds the org, accounts and engagement).

A fallback owner for accounts without one, set before the accounts qualify; then, on a
fresh database, the new plays aged so that the first screen tells the story, and the
escalation sweep run so their reminders and escalations are already in the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F

from mqaflow.demo import Demo
from plays.escalation import escalations_sweep
from plays.models import DismissReason, Notice, Play, PlayLogEntry, PlayOutcome, SLAPolicy
from plays.plans import plan_first_at
from plays.services import play_complete, play_dismiss, play_start

# The funnels' fallback owner: who gets the plays of accounts without an owner.
FALLBACK_OWNER_EMAIL = "manager.east@mqaflow.example"

# What each ADR's open plays look like on a fresh `make run`, in order of their plays: the
# first is fresh, the second at risk (reminder sent), the third overdue (its manager told),
# the fourth escalated further up; then one started, one completed, one dismissed.
PLAY_STORIES = ["fresh", "at_risk", "overdue", "escalated", "started", "completed", "dismissed"]


def policies_seed(*, demo: Demo) -> None:
    """Policies without a fallback owner get the demo's East manager."""
    fallback = demo.owners[FALLBACK_OWNER_EMAIL]
    SLAPolicy.objects.filter(fallback_owner__isnull=True).update(fallback_owner=fallback)


def plays_seed(*, demo: Demo) -> None:
    """On a fresh database, age the new plays to show every state, and run the sweep once
    the demo is committed."""
    if not demo.fresh:
        return
    demo.stories = _tell_stories(demo.now)
    if demo.stories:

        def notices_send() -> None:
            demo.notices_sent = escalations_sweep(now=demo.now).sent

        demo.after_commit.append(notices_send)


def _shift(play: Play, delta: timedelta) -> None:
    """Move a new play (and its account's qualification) `delta` into the past, as if it
    had been created then: its deadlines, frozen plan, history and first notice."""
    for entry in play.plan:
        entry["at"] = (datetime.fromisoformat(entry["at"]) - delta).isoformat()
    Play.objects.filter(pk=play.pk).update(
        created_at=play.created_at - delta,
        due_at=play.due_at - delta,
        remind_at=play.remind_at - delta if play.remind_at else None,
        plan=play.plan,
        next_action_at=plan_first_at(plan=play.plan),
    )
    PlayLogEntry.objects.filter(play=play).update(at=F("at") - delta)
    Notice.objects.filter(play=play).update(
        created_at=F("created_at") - delta,
        due_at=F("due_at") - delta,
        next_attempt_at=F("next_attempt_at") - delta,
    )
    transition = play.transition
    type(transition).objects.filter(pk=transition.pk).update(at=F("at") - delta)


def _tell_stories(now: datetime) -> dict[str, int]:
    """Age the demo's new plays so that the first screen tells the story (PLAY_STORIES)."""
    counts: dict[str, int] = {}
    by_assignee: dict[int, list[Play]] = {}
    for play in (
        Play.objects.filter(status="pending")
        .select_related("policy", "transition", "assignee__user", "account")
        .order_by("pk")
    ):
        by_assignee.setdefault(play.assignee_id, []).append(play)
    reason = DismissReason.objects.filter(is_active=True, adr_may_use=True).first()
    for plays in by_assignee.values():
        for play, story in zip(plays, PLAY_STORIES, strict=False):
            hours = play.policy.response_hours
            ladder = sorted(s.after_hours for s in play.policy.steps.all())
            age = {
                "fresh": timedelta(minutes=20),
                "at_risk": timedelta(hours=hours * 0.85),
                "overdue": timedelta(hours=hours + 2),
                "escalated": timedelta(hours=(ladder[1] if len(ladder) > 1 else hours) + 3),
                "started": timedelta(hours=hours * 0.5),
                "completed": timedelta(hours=hours * 3),
                "dismissed": timedelta(hours=hours * 0.6),
            }[story]
            _shift(play, age)
            play.refresh_from_db()
            by = play.assignee.user
            if story == "started":
                play_start(play=play, by=by, message="", now=play.created_at + age / 2)
            elif story == "completed":
                play_start(play=play, by=by, message="", now=play.created_at + timedelta(hours=2))
                play_complete(
                    play=play,
                    by=by,
                    outcome=PlayOutcome.MEETING_BOOKED,
                    now=play.created_at + timedelta(hours=30),
                )
            elif story == "dismissed" and reason is not None:
                play_dismiss(play=play, by=by, reason=reason, now=now - timedelta(hours=1))
            counts[story] = counts.get(story, 0) + 1
    return counts
