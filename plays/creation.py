"""Plays for a whole batch of qualifications at once (a fresh load qualifies tens of
thousands of accounts in one recompute).

The engine sends `accounts_qualified` once per recorded batch, inside its transaction.
A few transitions go through `play_create`, one by one, with their new-play notices
published at once. A large batch is created set-based: accounts, policies, ladders,
templates, absences and notification preferences are loaded once; plays, their history
lines and their new-play notices are inserted with three `bulk_create`s; the notices are
delivered by the next sweep (within a minute) instead of tens of thousands of messages.
The rules are the same as `play_create`'s: one open play per account, the owner (or the
fallback, or a stand-in for an away owner), the policy's frozen plan.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction

from mqaflow.models import Account, MQATransition

from .channels import notice_time
from .models import (
    OPEN_STATUSES,
    Notice,
    NoticeKind,
    NotificationPreference,
    Play,
    PlayLogEntry,
    PlayStatus,
    PlayTemplate,
    SLAPolicy,
)
from .plans import plan_build, play_build
from .routing import absences_at, assignee_for
from .selectors import template_for
from .services import ASSIGNED_STEP, play_create, play_keep_after_requalification
from .signals import play_changed

logger = logging.getLogger(__name__)

# Below this many qualifications, plays are created one by one and notified at once.
BATCH_THRESHOLD = 50


def plays_create_for(*, transitions: list[MQATransition]) -> list[Play]:
    """Create the plays of a batch of qualifications (the caller's transaction)."""
    if len(transitions) < BATCH_THRESHOLD:
        made = [play_create(account=t.account, transition=t, now=t.at) for t in transitions]
        return [p for p in made if p is not None]
    try:
        with transaction.atomic():
            return _create_set_based(transitions)
    except IntegrityError:  # a play appeared concurrently: fall back to the careful path
        logger.warning("batch play creation met a concurrent play; creating one by one")
        made = [play_create(account=t.account, transition=t, now=t.at) for t in transitions]
        return [p for p in made if p is not None]


def _create_set_based(transitions: list[MQATransition]) -> list[Play]:
    accounts = Account.objects.select_related("owner").in_bulk([t.account_id for t in transitions])
    policies = {p.funnel: p for p in SLAPolicy.objects.select_related("fallback_owner")}
    open_plays = Play.objects.filter(account_id__in=accounts, status__in=OPEN_STATUSES)
    busy = set(open_plays.values_list("account_id", flat=True))
    by_account = {t.account_id: t for t in transitions}
    flagged = open_plays.exclude(withdraw_due_at=None, account_disqualified_at=None)
    for play in flagged:  # qualified again while flagged: the play simply goes on
        transition = by_account[play.account_id]
        play_keep_after_requalification(play=play, transition=transition, now=transition.at)
    prefs = {
        p.owner_id: p for p in NotificationPreference.objects.all()
    }  # one row per owner who set preferences: a small table
    absences_by_time: dict[datetime, dict] = {}
    plans: dict[tuple[int, datetime], tuple] = {}
    templates: dict[int, PlayTemplate | None] = {}
    plays, notes = [], []
    for transition in transitions:
        policy = policies.get(transition.funnel)
        account = accounts.get(transition.account_id)
        if policy is None or account is None or account.pk in busy:
            continue  # no policy, or an open play already (it simply goes on)
        at = transition.at
        if at not in absences_by_time:
            absences_by_time[at] = absences_at(at=at)
        routing = assignee_for(account=account, policy=policy, at=at, absences=absences_by_time[at])
        if routing.owner is None:
            logger.error("no owner to assign the play of account %s to", account.pk)
            continue
        if (policy.pk, at) not in plans:
            plans[(policy.pk, at)] = plan_build(policy=policy, start=at)
        if transition.funnel not in templates:
            templates[transition.funnel] = template_for(funnel=transition.funnel)
        busy.add(account.pk)
        plays.append(
            play_build(
                transition=transition,
                account=account,
                owner=routing.owner,
                policy=policy,
                planned=plans[(policy.pk, at)],
                template=templates[transition.funnel],
            )
        )
        notes.append(routing.notes)
    Play.objects.bulk_create(plays, batch_size=1000)
    PlayLogEntry.objects.bulk_create(
        [
            PlayLogEntry(
                play=play,
                at=play.created_at,
                kind="created",
                to_status=PlayStatus.PENDING,
                to_assignee=play.assignee,
                note=" ".join([f"Assigned to {play.assignee.name}.", *why]),
            )
            for play, why in zip(plays, notes, strict=True)
        ],
        batch_size=1000,
    )
    Notice.objects.bulk_create(
        [
            Notice(
                play=play,
                step=ASSIGNED_STEP,
                kind=NoticeKind.ASSIGNED,
                level=0,
                recipient=play.assignee,
                recipient_email=play.assignee.email,
                due_at=play.created_at,
                next_attempt_at=notice_time(
                    prefs.get(play.assignee_id), kind=NoticeKind.ASSIGNED, at=play.created_at
                ),
                created_at=play.created_at,
                note=" ".join(why),
            )
            for play, why in zip(plays, notes, strict=True)
        ],
        batch_size=1000,
    )
    for play in plays:
        play_changed.send(
            sender=Play, play=play, kind="created", at=play.created_at, by=None, note=""
        )
    logger.info("created %d plays in one batch", len(plays))
    return plays
