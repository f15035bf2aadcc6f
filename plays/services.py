"""Creating plays and changing their status: the one place that enforces the rules.

Every status change locks the play row first. The escalation sweep locks the same row
while it hands an email to the mail backend, so "the ADR started the play" and "the
manager was emailed" can never interleave: whichever commits first wins cleanly.

Moves between people (reassign, owner change, deactivation, absence) are in
`plays.assignment`; the sweep that sends notices is in `plays.escalation`. Read-only
questions (who may see, work or manage a play; what changed last; whom a comment mentions)
are in `plays.selectors`; the deadlines and steps a play's clock follows, in `plays.plans`.
Services are keyword-only and named `<entity>_<verb>`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from mqaflow.models import Account, MQAStatus, MQATransition, Owner

from .channels import assigned_notice_time
from .models import (
    OPEN_STATUSES,
    DismissReason,
    Notice,
    NoticeKind,
    NoticeStatus,
    Play,
    PlayComment,
    PlayLogEntry,
    PlayOutcome,
    PlayStatus,
    SLAPolicy,
)
from .plans import REMINDER_STEP, plan_build, plan_first_at, play_build
from .routing import assignee_for, available
from .selectors import (
    REOPEN_WINDOW,
    can_manage,
    can_work,
    describe_change,
    last_change,
    last_move_away,
    mention_candidates,
    mentions_parse,
    template_for,
    visible_plays,
)
from .signals import play_changed

logger = logging.getLogger(__name__)

# Allowed status changes: from → {to}. Anything else is a PlayTransitionError (HTTP 409).
TRANSITIONS: dict[str, set[str]] = {
    PlayStatus.PENDING: {PlayStatus.STARTED, PlayStatus.DISMISSED, PlayStatus.WITHDRAWN},
    PlayStatus.STARTED: {PlayStatus.COMPLETED, PlayStatus.DISMISSED},
    PlayStatus.COMPLETED: set(),
    PlayStatus.DISMISSED: {PlayStatus.PENDING},  # reopened by a manager
    PlayStatus.WITHDRAWN: set(),
}

ASSIGNED_STEP = 0


class PlayTransitionError(Exception):
    """A status change the play's current status does not allow (HTTP 409)."""


class PlayConflict(PlayTransitionError):
    """The play changed since the actor last saw it (reassigned, dismissed, withdrawn)."""


class PlayPermissionError(Exception):
    """The user may not do this to this play (HTTP 403)."""


def play_clock_restart(*, play: Play, start: datetime) -> None:
    """A fresh SLA from `start`: new deadlines, plan steps numbered after every step the
    play already has (sent steps stay on record, unsent ones are cancelled by the caller)."""
    used = play.notices.exclude(kind=NoticeKind.ASSIGNED).aggregate(m=Max("step"))["m"]
    planned = max((p["step"] for p in play.plan), default=0)
    due_at, remind_at, plan = plan_build(
        policy=play.policy, start=start, first_step=max(used or 0, planned) + 1
    )
    play.plan, play.due_at, play.remind_at = plan, due_at, remind_at
    play.next_action_at = plan_first_at(plan=plan)
    play.clock_started_at = start


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
    open_play = Play.objects.filter(account=account, status__in=OPEN_STATUSES).first()
    if open_play is not None:
        play_keep_after_requalification(play=open_play, transition=transition, now=now)
        return None
    routing = assignee_for(account=account, policy=policy, at=now)
    if routing.owner is None:  # no owner exists at all: nothing to assign to
        logger.error("no owner to assign the play of account %s to", account.pk)
        return None
    due_at, remind_at, plan = plan_build(policy=policy, start=now)
    try:
        with transaction.atomic():
            play = play_build(
                transition=transition,
                account=account,
                owner=routing.owner,
                policy=policy,
                planned=(due_at, remind_at, plan),
                template=template_for(funnel=transition.funnel),
            )
            play.save()
    except IntegrityError:  # a concurrent qualification created the open play first
        return None
    PlayLogEntry.objects.create(
        play=play,
        at=now,
        kind="created",
        to_status=PlayStatus.PENDING,
        to_assignee=routing.owner,
        note=" ".join([f"Assigned to {routing.owner.name}.", *routing.notes]),
    )
    notice_assigned_create(play=play, now=now, note=" ".join(routing.notes))
    play_changed.send(sender=Play, play=play, kind="created", at=now, by=None, note="")
    return play


def play_keep_after_requalification(
    *, play: Play, transition: MQATransition, now: datetime
) -> None:
    """The account qualified again while its play was waiting out the withdrawal grace
    period, or after it stopped qualifying while started: the play simply goes on."""
    if play.withdraw_due_at is None and play.account_disqualified_at is None:
        return
    Play.objects.filter(pk=play.pk).update(withdraw_due_at=None, account_disqualified_at=None)
    PlayLogEntry.objects.create(
        play=play,
        at=now,
        kind="requalified",
        note=f"The account qualifies again: {transition.explanation}",
    )


def notice_assigned_create(*, play: Play, now: datetime, note: str = "") -> Notice:
    """A "play assigned to you" notice for the current assignee, sent at once after commit.

    Each assignment round has its own row (unique per play, kind and step), so a move
    notifies the new assignee once however often the request is retried."""
    last = play.notices.filter(kind=NoticeKind.ASSIGNED).aggregate(m=Max("step"))["m"]
    notice = Notice.objects.create(
        play=play,
        step=ASSIGNED_STEP if last is None else last + 1,
        kind=NoticeKind.ASSIGNED,
        level=0,
        recipient=play.assignee,
        recipient_email=play.assignee.email,
        due_at=now,
        next_attempt_at=assigned_notice_time(play.assignee, now),
        created_at=now,
        note=note,
    )
    _deliver_after_commit(notice)
    return notice


def _deliver_after_commit(notice: Notice) -> None:
    """Send the notice right after commit; if the message is lost the sweep sends it."""
    from mqaflow.broker import publish

    from .tasks import notice_deliver

    transaction.on_commit(partial(publish, notice_deliver, notice.pk))


def notices_cancel(*, play: Play, why: str, recipient_id: int | None = None) -> int:
    """Cancel every notice of the play not yet handed to the mail server (optionally only
    those addressed to one person): nobody is told about it again."""
    qs = Notice.objects.filter(play=play, status=NoticeStatus.PENDING).exclude(
        kind=NoticeKind.MENTION  # a comment stays news whatever happens to the play
    )
    if recipient_id is not None:
        qs = qs.filter(recipient_id=recipient_id)
    return qs.update(status=NoticeStatus.CANCELLED, next_attempt_at=None, last_error=why)


def _locked(play: Play) -> Play:
    return Play.objects.select_for_update(of=("self",)).select_related("account").get(pk=play.pk)


def _change_status(
    locked: Play, to: str, *, by, now: datetime, note: str = "", entry_kind: str = "", **fields
) -> Play:
    """Apply a status change to a play the caller has locked, with its history line."""
    if to not in TRANSITIONS[locked.status]:
        raise PlayConflict(describe_change(entry=last_change(play=locked), play=locked))
    old = locked.status
    locked.status = to
    for name, value in fields.items():
        setattr(locked, name, value)
    if to != PlayStatus.PENDING:
        locked.next_action_at = None
        locked.withdraw_due_at = None
    locked.save()
    PlayLogEntry.objects.create(
        play=locked,
        at=now,
        actor=by if by is not None and by.is_authenticated else None,
        kind=entry_kind or to,
        from_status=old,
        to_status=to,
        note=note,
    )
    if to not in OPEN_STATUSES:
        notices_cancel(play=locked, why=f"Not sent: the play was {PlayStatus(to).label.lower()}.")
    play_changed.send(sender=Play, play=locked, kind=entry_kind or to, at=now, by=by, note=note)
    return locked


def _check_assignee(locked: Play, by, verb: str) -> None:
    """Only the assignee may act; someone who held the play before gets a 409 saying who
    took it over, anyone else a 403."""
    if can_work(user=by, play=locked):
        return
    mine = getattr(by, "owner", None) if by.is_authenticated else None
    moved_away = last_move_away(play=locked, owner=mine) if mine is not None else None
    if moved_away is not None:
        raise PlayConflict(describe_change(entry=moved_away, play=locked))
    raise PlayPermissionError(f"Only the assignee can {verb} this play.")


@transaction.atomic
def play_start(*, play: Play, by, message: str | None = None, now: datetime | None = None) -> Play:
    locked = _locked(play)
    _check_assignee(locked, by, "start")
    now = now or timezone.now()
    if message is not None:
        return _change_status(
            locked, PlayStatus.STARTED, by=by, now=now, started_at=now, message=message
        )
    return _change_status(locked, PlayStatus.STARTED, by=by, now=now, started_at=now)


@transaction.atomic
def play_complete(*, play: Play, by, outcome: str = "", now: datetime | None = None) -> Play:
    """Complete a started play. The UI always asks for the outcome (what the reports and
    the scorecard count); API clients of earlier releases may still complete without one."""
    if outcome and outcome not in PlayOutcome.values:
        allowed = ", ".join(PlayOutcome.values)
        raise ValueError(f"Unknown outcome {outcome!r}; use one of {allowed}.")
    locked = _locked(play)
    _check_assignee(locked, by, "complete")
    now = now or timezone.now()
    note = f"Outcome: {PlayOutcome(outcome).label}." if outcome else ""
    return _change_status(
        locked, PlayStatus.COMPLETED, by=by, now=now, note=note, completed_at=now, outcome=outcome
    )


def notice_mention_create(*, comment: PlayComment, owner: Owner, now: datetime) -> Notice:
    """A "you were mentioned" notice, sent at once after commit; mentions are numbered per
    play (unique per play, kind and step) like the assignment rounds."""
    last = comment.play.notices.filter(kind=NoticeKind.MENTION).aggregate(m=Max("step"))["m"]
    author = getattr(comment.author, "owner", None)
    who = author.name if author else (comment.author.get_username() if comment.author else "")
    notice = Notice.objects.create(
        play=comment.play,
        step=(last or 0) + 1,
        kind=NoticeKind.MENTION,
        level=0,
        recipient=owner,
        recipient_email=owner.email,
        due_at=now,
        next_attempt_at=assigned_notice_time(owner, now),  # at once, after quiet hours
        created_at=now,
        note=f"{who}: {comment.body}"[:4000],
    )
    _deliver_after_commit(notice)
    return notice


COMMENT_MAX_LENGTH = 5000


@transaction.atomic
def play_comment(*, play: Play, by, body: str, now: datetime | None = None) -> PlayComment:
    """Anyone who can see the play may comment; each @mentioned teammate or manager gets
    one notice (the author is never notified of their own mention)."""
    body = (body or "").strip()
    if not body:
        raise PlayTransitionError("Write something to comment.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise PlayTransitionError(f"A comment has at most {COMMENT_MAX_LENGTH} characters.")
    if not visible_plays(user=by).filter(pk=play.pk).exists():
        raise PlayPermissionError("You cannot see this play.")
    play = _locked(play)  # mentions are numbered per play: one comment at a time
    now = now or timezone.now()
    comment = PlayComment.objects.create(play=play, author=by, body=body, created_at=now)
    mine = getattr(by, "owner", None)
    candidates = mention_candidates(play=play)
    mentioned = [o for o in mentions_parse(body=body, candidates=candidates) if o != mine]
    comment.mentions.set(mentioned)
    for owner in mentioned:
        notice_mention_create(comment=comment, owner=owner, now=now)
    return comment


@transaction.atomic
def play_dismiss(
    *, play: Play, by, reason: DismissReason, note: str = "", now: datetime | None = None
) -> Play:
    """Managers and admins dismiss with any active reason; the assignee with the reasons
    marked "ADRs may use it"."""
    locked = _locked(play)
    if not can_manage(user=by, play=locked):
        _check_assignee(locked, by, "dismiss")
        if not reason.adr_may_use:
            raise PlayPermissionError(
                f"ADRs cannot dismiss with the reason {reason.label!r}; ask your manager."
            )
    now = now or timezone.now()
    return _change_status(
        locked,
        PlayStatus.DISMISSED,
        by=by,
        now=now,
        note=f"{reason.label}. {note}".strip(),
        dismissed_at=now,
        dismissed_reason=reason,
        dismissed_note=note,
        dismissed_by=by if by.is_authenticated else None,
    )


@transaction.atomic
def play_reopen(*, play: Play, by, now: datetime | None = None) -> Play:
    """A manager takes back a dismissal within a week: pending again, a fresh SLA from now,
    and the assignee is told at once."""
    locked = _locked(play)
    if not can_manage(user=by, play=locked):
        raise PlayPermissionError("Only the assignee's managers and admins can reopen a play.")
    now = now or timezone.now()
    if locked.status != PlayStatus.DISMISSED:
        raise PlayConflict(describe_change(entry=last_change(play=locked), play=locked))
    if locked.dismissed_at is not None and now - locked.dismissed_at > REOPEN_WINDOW:
        raise PlayTransitionError("A dismissed play can be reopened within 7 days only.")
    if Play.objects.filter(account=locked.account, status__in=OPEN_STATUSES).exists():
        raise PlayTransitionError("The account already has an open play.")
    play_clock_restart(play=locked, start=now)
    previous = (locked.dismissed_reason.label if locked.dismissed_reason else "") or "dismissed"
    locked = _change_status(
        locked,
        PlayStatus.PENDING,
        by=by,
        now=now,
        note=f"Reopened (was dismissed: {previous}). A fresh SLA runs from now.",
        entry_kind="reopened",
        dismissed_at=None,
        dismissed_reason=None,
        dismissed_note="",
        dismissed_by=None,
        started_at=None,
        completed_at=None,
    )
    if not available(locked.assignee, now):
        from .assignment import play_move
        from .routing import successor_of

        routing = successor_of(owner=locked.assignee, at=now, policy=locked.policy)
        if routing.owner is not None:
            return play_move(
                play=locked,
                to_owner=routing.owner,
                by=by,
                now=now,
                why=" ".join(["Reopened.", *routing.notes]),
            )
    notice_assigned_create(play=locked, now=now, note="The play was reopened by a manager.")
    return locked


def play_withdraw(*, play: Play, reason: str, now: datetime) -> Play | None:
    """Withdraw a pending play whose account no longer qualifies (caller's transaction).

    Every notice not yet sent is cancelled; the sweep never plans another for it."""
    locked = _locked(play)
    if locked.status != PlayStatus.PENDING:
        return None
    return _change_status(
        locked,
        PlayStatus.WITHDRAWN,
        by=None,
        now=now,
        note=reason,
        withdrawn_at=now,
        withdrawn_reason=reason,
    )


def _withdrawal_reason(transition: MQATransition) -> str:
    if transition.to_status == MQAStatus.EXCLUDED:
        reason = transition.account.excluded_reason or "no reason given"
        return f"Account excluded: {reason}"
    return f"Account no longer qualifies: {transition.explanation}"


def plays_follow_disqualification(*, transition: MQATransition) -> None:
    """The account stopped being an MQA: its pending play is withdrawn now (or after the
    policy's grace period); a started play is flagged and left to the ADR."""
    play = (
        Play.objects.select_for_update(of=("self",))
        .select_related("policy")
        .filter(account_id=transition.account_id, status__in=OPEN_STATUSES)
        .first()
    )
    if play is None:
        return
    now = transition.at
    reason = _withdrawal_reason(transition)
    if play.status == PlayStatus.STARTED:
        play.account_disqualified_at = now
        play.save(update_fields=["account_disqualified_at"])
        PlayLogEntry.objects.create(
            play=play, at=now, kind="account_disqualified", note=f"{reason}. The ADR decides."
        )
        return
    policy = play.policy
    if not policy.withdraw_when_disqualified:
        PlayLogEntry.objects.create(
            play=play,
            at=now,
            kind="account_disqualified",
            note=f"{reason}. The policy keeps the play open.",
        )
        return
    grace = timedelta(hours=policy.withdraw_grace_hours)
    if grace and transition.to_status != MQAStatus.EXCLUDED:
        play.withdraw_due_at = now + grace
        play.save(update_fields=["withdraw_due_at"])
        PlayLogEntry.objects.create(
            play=play,
            at=now,
            kind="account_disqualified",
            note=f"{reason}. Withdrawn in {policy.withdraw_grace_hours} h unless it "
            "qualifies again.",
        )
        return
    play_withdraw(play=play, reason=reason, now=now)


def plays_withdraw_due(*, now: datetime | None = None) -> int:
    """Withdraw the pending plays whose grace period ended with the account still out."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        due = (
            Play.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=PlayStatus.PENDING, withdraw_due_at__lte=now)
            .select_related("account")
        )
        for play in due:
            account = play.account
            if account.mqa_status == MQAStatus.MQA:
                play.withdraw_due_at = None
                play.save(update_fields=["withdraw_due_at"])
                continue
            transition = account.mqa_transitions.order_by("-at", "-pk").first()
            reason = (
                _withdrawal_reason(transition)
                if transition is not None
                else "Account no longer qualifies."
            )
            play_withdraw(play=play, reason=reason, now=now)
            count += 1
    return count


@transaction.atomic
def plays_replan(*, policy: SLAPolicy, now: datetime | None = None) -> int:
    """Re-plan the pending plays of a policy on purpose (admin action): new deadlines from
    the current policy, measured from when each play's clock started (its creation, or its
    reopening); steps already sent stay sent.
    Started plays have no deadline left to move."""
    now = now or timezone.now()
    count = 0
    for play in Play.objects.select_for_update().filter(policy=policy, status=PlayStatus.PENDING):
        done = set(
            play.notices.exclude(kind__in=[NoticeKind.ASSIGNED, NoticeKind.MENTION]).values_list(
                "step", flat=True
            )
        )
        first_step = min((p["step"] for p in play.plan), default=REMINDER_STEP)
        start = play.clock_started_at or play.created_at
        due_at, remind_at, plan = plan_build(policy=policy, start=start, first_step=first_step)
        play.due_at, play.remind_at, play.plan = due_at, remind_at, plan
        play.policy_version = policy.version
        play.next_action_at = plan_first_at(plan=[p for p in plan if p["step"] not in done])
        play.save()
        PlayLogEntry.objects.create(
            play=play, at=now, kind="replanned", note=f"Re-planned under policy v{policy.version}."
        )
        count += 1
    return count
