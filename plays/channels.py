"""Notices where people read them: each owner's channels, digests and quiet hours.

Timing. A notice's first attempt (`Notice.next_attempt_at`) is when its recipient wants
it: reminders and escalations wait for the next hourly or daily digest if the recipient
chose one (new-play notices never do), and every notice waits out the recipient's quiet
hours — except an escalation step marked urgent. Notices due to one person at the same
moment go out together, which is how the sweep's existing digest (one email, every row
marked sent in one transaction) turns into the hourly or daily digest.

Channels. Email stays the notice's own delivery (plays.escalation). When a notice is sent,
in the same transaction, one `ChatNotice` per chat channel of the recipient (Slack, Teams)
is recorded — unique per (notice, channel), so exactly once per (play, step, channel) —
and delivered after commit with the same rules as email: claimed per recipient and channel
(several due notices make one digest message, all marked sent in one transaction), retried
with exponential backoff (2, 4, 8… minutes, at most an hour) on timeouts, connection
errors, 5xx, 408 and 429, failed at once on any other answer, and resent once after a
worker died mid-send. A sweep every minute delivers what is due or stranded.
"""

from __future__ import annotations

import json
import logging
import time as clock
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mqaflow.http import json_post

from .claims import release_stale_claims
from .models import (
    ESCALATION_WORD,
    ChatChannel,
    ChatNotice,
    Notice,
    NoticeDelivery,
    NoticeKind,
    NoticeStatus,
    NotificationPreference,
    Play,
    PlayStatus,
)

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
DIGEST_MAX = 100
RETRYABLE_4XX = {408, 429}


# --- timing ------------------------------------------------------------------------------


def preference_of(owner_id: int | None, cache: dict | None = None):
    """The owner's preferences (None: email at once, no quiet hours), cached per sweep."""
    if owner_id is None:
        return None
    if cache is not None and owner_id in cache:
        return cache[owner_id]
    pref = NotificationPreference.objects.filter(owner_id=owner_id).first()
    if cache is not None:
        cache[owner_id] = pref
    return pref


def _zone(pref: NotificationPreference) -> ZoneInfo:
    return ZoneInfo(pref.time_zone or settings.TIME_ZONE)


def _in_quiet_hours(local: datetime, start: time, end: time) -> bool:
    now = local.time()
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # across midnight, e.g. 20:00–07:30


def _quiet_end(local: datetime, start: time, end: time) -> datetime:
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def notice_time(
    pref: NotificationPreference | None, *, kind: str, at: datetime, urgent: bool = False
) -> datetime:
    """When a notice of `kind` due at `at` should first be attempted for this recipient."""
    if pref is None or urgent:
        return at
    zone = _zone(pref)
    local = at.astimezone(zone)
    if kind != NoticeKind.ASSIGNED and pref.delivery == NoticeDelivery.HOURLY:
        top = local.replace(minute=0, second=0, microsecond=0)
        local = top if top == local else top + timedelta(hours=1)
    elif kind != NoticeKind.ASSIGNED and pref.delivery == NoticeDelivery.DAILY:
        slot = local.replace(hour=pref.digest_hour, minute=0, second=0, microsecond=0)
        local = slot if slot >= local else slot + timedelta(days=1)
    # Wall-clock arithmetic (zoneinfo gives each local time its own offset, DST included).
    start, end = pref.quiet_start, pref.quiet_end
    if start is not None and end is not None and _in_quiet_hours(local, start, end):
        local = _quiet_end(local, start, end)
    return local.astimezone(at.tzinfo or timezone.get_current_timezone())


def notice_defer(*, notice: Notice, entry: dict | None, context: dict) -> None:
    """Set a planned notice's first attempt by its recipient's preferences (the planner
    calls this for every row it plans; `context` caches preferences for the sweep)."""
    if notice.next_attempt_at is None or notice.recipient_id is None:
        return
    pref = preference_of(notice.recipient_id, context.setdefault("preferences", {}))
    notice.next_attempt_at = notice_time(
        pref,
        kind=notice.kind,
        at=notice.next_attempt_at,
        urgent=bool(entry and entry.get("urgent")),
    )


def assigned_notice_time(owner, at: datetime) -> datetime:
    """A new-play notice: never digested, but it waits out quiet hours."""
    return notice_time(preference_of(owner.pk), kind=NoticeKind.ASSIGNED, at=at)


def email_wanted(owner_id: int | None) -> bool:
    pref = preference_of(owner_id)
    return pref is None or pref.email


# --- recording chat notices --------------------------------------------------------------


def chat_notices_record(*, notices: list[Notice], now: datetime) -> int:
    """In the transaction that marks the notices sent: one chat notice per chat channel of
    each recipient, published after commit."""
    prefs = {
        p.owner_id: p
        for p in NotificationPreference.objects.filter(
            owner_id__in={n.recipient_id for n in notices if n.recipient_id}
        )
    }
    rows = []
    for notice in notices:
        pref = prefs.get(notice.recipient_id) if notice.recipient_id is not None else None
        if pref is None:
            continue
        for channel, url in pref.chat_channels().items():
            rows.append(
                ChatNotice(
                    notice=notice,
                    channel=channel,
                    recipient_id=pref.owner_id,
                    url=url,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if not rows:
        return 0
    ChatNotice.objects.bulk_create(rows, ignore_conflicts=True)
    for recipient_id, channel in {(r.recipient_id, r.channel) for r in rows}:
        transaction.on_commit(partial(_publish, recipient_id, channel))
    return len(rows)


def _publish(recipient_id: int, channel: str) -> None:
    from mqaflow.broker import publish

    from .tasks import deliver_chat_notices

    publish(deliver_chat_notices, recipient_id, channel)


# --- delivering --------------------------------------------------------------------------


def chat_notices_claim(
    *, recipient_id: int, channel: str, now: datetime | None = None
) -> list[int]:
    """Claim the due chat notices of one recipient on one channel (one message)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            ChatNotice.objects.select_for_update(skip_locked=True)
            .filter(
                recipient_id=recipient_id,
                channel=channel,
                status=NoticeStatus.PENDING,
                next_attempt_at__lte=now,
            )
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:DIGEST_MAX]
        )
        ChatNotice.objects.filter(pk__in=ids).update(
            status=NoticeStatus.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
    return ids


def chat_notices_deliver_claimed(*, ids: list[int], now: datetime | None = None) -> str:
    """Send claimed chat notices (one recipient, one channel) as one message."""
    from .notifications import context_for

    now = now or timezone.now()
    rows = list(
        ChatNotice.objects.select_related("notice__recipient")
        .filter(pk__in=ids, status=NoticeStatus.SENDING)
        .order_by("created_at", "pk")
    )
    if not rows:
        return "skipped"
    plays = {
        p.pk: p
        for p in Play.objects.select_related("account", "assignee", "transition").filter(
            pk__in={r.notice.play_id for r in rows}
        )
    }
    sendable: list[ChatNotice] = []
    stale: list[ChatNotice] = []
    for row in rows:
        play = plays[row.notice.play_id]
        kind = row.notice.kind
        relevant = (
            True  # a comment's mention is news whatever the play's status
            if kind == NoticeKind.MENTION
            else play.is_open and play.assignee_id == row.notice.recipient_id
            if kind == NoticeKind.ASSIGNED
            else play.status == PlayStatus.PENDING
        )
        (sendable if relevant else stale).append(row)
    if stale:
        ChatNotice.objects.filter(pk__in=[r.pk for r in stale]).update(
            status=NoticeStatus.SKIPPED,
            next_attempt_at=None,
            last_error="Not sent: the play changed first.",
        )
    if not sendable:
        return "skipped"
    items = [context_for(notice=r.notice, play=plays[r.notice.play_id], now=now) for r in sendable]
    channel, url = sendable[0].channel, sendable[0].url
    payload = slack_payload(items) if channel == ChatChannel.SLACK else teams_payload(items)
    code, error = json_post(
        url=url,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        timeout=settings.CHAT_TIMEOUT_SECONDS,
    )
    return _record(sendable, code=code, error=error, now=now)


@transaction.atomic
def _record(rows: list[ChatNotice], *, code: int | None, error: str, now: datetime) -> str:
    """The message's send record: every notice in it moves together, in one transaction."""
    ids = [r.pk for r in rows]
    mine = ChatNotice.objects.filter(pk__in=ids, status=NoticeStatus.SENDING)
    if code is not None and 200 <= code < 300:
        mine.update(status=NoticeStatus.SENT, sent_at=now, response_code=code, last_error="")
        return "sent"
    if code is None or code >= 500 or code in RETRYABLE_4XX:
        attempts = max(r.attempts for r in rows)
        delay = min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)
        mine.update(
            status=NoticeStatus.PENDING,
            next_attempt_at=now + delay,
            response_code=code,
            last_error=error[:2000],
        )
        logger.warning("chat notices %s not sent; retry at %s", ids, now + delay)
        return "retrying"
    mine.update(
        status=NoticeStatus.FAILED, next_attempt_at=None, response_code=code, last_error=error
    )
    logger.error("chat notices %s refused (HTTP %s)", ids, code)
    return "failed"


def chat_notices_deliver(*, recipient_id: int, channel: str, now: datetime | None = None) -> str:
    """Claim and send one recipient's due notices on one channel, as one message."""
    ids = chat_notices_claim(recipient_id=recipient_id, channel=channel, now=now)
    if not ids:
        return "not-due"
    return chat_notices_deliver_claimed(ids=ids, now=now)


def _release_stale(now: datetime) -> None:
    """A worker died mid-send: resend once (the channel may show it twice); if that dies
    too, give up loudly — as for email."""
    release_stale_claims(
        ChatNotice,
        resend_at=now,
        resend_note="The worker stopped mid-send; resending once (it may show twice).",
        unknown_note="The worker stopped mid-send twice; not sent again.",
        what="chat notice",
    )


def chat_notices_sweep(*, now: datetime | None = None, budget: float = 50.0) -> int:
    """Every minute: deliver every due chat notice, one message per recipient and channel."""
    now = now or timezone.now()
    _release_stale(now)
    deadline = clock.monotonic() + budget
    sent = 0
    groups = (
        ChatNotice.objects.filter(Q(status=NoticeStatus.PENDING) & Q(next_attempt_at__lte=now))
        .values_list("recipient_id", "channel")
        .distinct()
    )
    for recipient_id, channel in list(groups):
        if clock.monotonic() > deadline:
            break
        if chat_notices_deliver(recipient_id=recipient_id, channel=channel, now=now) == "sent":
            sent += 1
    return sent


# --- message formats ---------------------------------------------------------------------


def _title(item: dict) -> str:
    notice = item["notice"]
    label = {
        NoticeKind.ASSIGNED: "New play",
        NoticeKind.REMINDER: "Reminder",
        NoticeKind.MENTION: "You were mentioned",
    }.get(notice.kind, f"{ESCALATION_WORD} (level {notice.level})")
    return f"{label}: {item['account'].name}"


def _facts(item: dict) -> list[tuple[str, str]]:
    play, account = item["play"], item["account"]
    facts = [("Comment", item["notice"].note)] if item["notice"].kind == NoticeKind.MENTION else []
    facts += [
        ("Account", f"{account.name} ({account.domain})"),
        ("Assignee", item["assignee"].name),
        ("Deadline", timezone.localtime(item["due_at"]).strftime("%a %-d %b %H:%M")),
    ]
    if item["late"]:
        facts.append(("Overdue by", item["late"]))
    elif item["due_in"]:
        facts.append(("Due in", item["due_in"]))
    facts.append(("Why it qualified", item["explanation"] or "—"))
    if item.get("told_before"):
        facts.append(("Told before", item["told_before"]))
    facts.append(("Waiting for", item["waiting"]))
    del play
    return facts


def slack_payload(items: list[dict]) -> dict:
    """Slack Block Kit: a header, the facts as fields, a button to the play; a digest lists
    every play, separated by dividers."""
    text = (
        _title(items[0])
        if len(items) == 1
        else f"{len(items)} plays need your attention in mqaflow"
    )
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": text[:150]}}]
    for index, item in enumerate(items):
        if index:
            blocks.append({"type": "divider"})
        if len(items) > 1:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_title(item)}*"}}
            )
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in _facts(item)
                ][:10],
            }
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the play"},
                        "url": item["link"],
                    }
                ],
            }
        )
    return {"text": text, "blocks": blocks}


def teams_payload(items: list[dict]) -> dict:
    """Microsoft Teams MessageCard (incoming webhooks): one section of facts per play and
    an "Open the play" action for each."""
    text = (
        _title(items[0])
        if len(items) == 1
        else f"{len(items)} plays need your attention in mqaflow"
    )
    late = any(item["late"] for item in items)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": text,
        "themeColor": "D9534F" if late else "0076D7",
        "title": text,
        "sections": [
            {
                "activityTitle": _title(item),
                "facts": [{"name": name, "value": value} for name, value in _facts(item)],
                "markdown": True,
            }
            for item in items
        ],
        "potentialAction": [
            {
                "@type": "OpenUri",
                "name": f"Open {item['account'].name}" if len(items) > 1 else "Open the play",
                "targets": [{"os": "default", "uri": item["link"]}],
            }
            for item in items
        ][:10],
    }
