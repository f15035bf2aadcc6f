"""Rendering and sending play emails: three templates per kind (subject, text, HTML), and
a digest when several notices are due to one person in the same sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from .channels import email_wanted
from .models import ESCALATION_WORD, Notice, NoticeKind, NoticeStatus, Play
from .routing import absences_at, escalation_recipient, relation

# Which notices an email carries ("play:step, …"); the name predates `Notice` and stays.
NOTICE_HEADER = "X-Mqaflow-Escalation"  # compatibility: mail filters and tooling read it


def humanize_duration(delta: timedelta) -> str:
    """'3 h 10 min', '2 days 4 h' — how people talk about SLA time."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if mins and not days:
        parts.append(f"{mins} min")
    return " ".join(parts) or "less than a minute"


def ladder_context(*, notice: Notice, play: Play, now: datetime, cache: dict | None = None) -> dict:
    """Who was told before this notice, and who is told next and when (if anyone): an
    escalation notice names the chain so nobody wonders whether their boss already knows.

    `cache` carries the absences and chains loaded once for a whole digest."""
    cache = {} if cache is None else cache
    if "absences" not in cache:
        cache["absences"] = absences_at(at=now)
    chains = cache.setdefault("chains", {})
    sent = (
        play.notices.filter(
            kind=NoticeKind.ESCALATION, status=NoticeStatus.SENT, step__lt=notice.step
        )
        .exclude(recipient=None)
        .select_related("recipient")
        .order_by("step")
    )
    told = [row.recipient for row in sent if row.recipient is not None]
    alerted = {o.pk for o in told} | (
        {notice.recipient_id} if notice.kind == NoticeKind.ESCALATION else set()
    )
    next_name, next_at = "", None
    if play.assignee_id not in chains:
        chains[play.assignee_id] = play.assignee.managers()
    chain = chains[play.assignee_id]
    for entry in sorted(play.plan, key=lambda e: e["step"]):
        if entry["step"] <= notice.step or entry["kind"] != NoticeKind.ESCALATION:
            continue
        found = escalation_recipient(
            assignee=play.assignee,
            levels_up=entry["levels_up"],
            to_top=entry["to_top"],
            at=now,
            chain=chain,
            absences=cache["absences"],
        )
        if found.owner is not None and found.owner.pk not in alerted:
            next_name, next_at = found.owner.name, datetime.fromisoformat(entry["at"])
            break
    return {
        "told_before": ", ".join(o.name for o in told),
        "next_name": next_name,
        "next_at": next_at,
        "next_in": humanize_duration(next_at - now) if next_at and next_at > now else "",
    }


def context_for(*, notice: Notice, play: Play, now: datetime, cache: dict | None = None) -> dict:
    recipient_name = notice.recipient.name if notice.recipient else ""
    late = now - play.due_at
    return {
        "notice": notice,
        "play": play,
        "account": play.account,
        "assignee": play.assignee,
        "recipient_name": recipient_name,
        "who": relation(notice.level, play.assignee.name),
        "explanation": play.transition.explanation or play.account.mqa_explanation,
        "waiting": humanize_duration(now - play.created_at),
        "late": humanize_duration(late) if late > timedelta(0) else "",
        "due_in": humanize_duration(-late) if late <= timedelta(0) else "",
        "due_at": play.due_at,
        "link": play.link,
        "level_label": _level_label(notice),
        "site_url": settings.SITE_URL,
        **ladder_context(notice=notice, play=play, now=now, cache=cache),
    }


def _level_label(notice: Notice) -> str:
    if notice.kind != NoticeKind.ESCALATION:
        return notice.get_kind_display()
    return f"{ESCALATION_WORD} level {notice.level}"


def _render(base: str, ctx: dict) -> tuple[str, str, str]:
    subject = " ".join(render_to_string(f"{base}-subject.txt", ctx).split())
    return (
        subject,
        render_to_string(f"{base}-body.txt", ctx),
        render_to_string(f"{base}-body.html", ctx),
    )


def _build_message(notices: list[tuple[Notice, Play]], now: datetime) -> EmailMultiAlternatives:
    """One email to one recipient: the notice itself, or a digest of every notice due."""
    first, play = notices[0]
    cache: dict = {}
    if len(notices) == 1:
        ctx = context_for(notice=first, play=play, now=now, cache=cache)
        subject, text, html = _render(f"emails/{first.kind}", ctx)
    else:
        items = [context_for(notice=row, play=p, now=now, cache=cache) for row, p in notices]
        ctx = {
            "recipient_name": first.recipient.name if first.recipient else "",
            "items": items,
            "count": len(items),
            "escalations": sum(1 for row, _ in notices if row.kind == NoticeKind.ESCALATION),
            "site_url": settings.SITE_URL,
        }
        subject, text, html = _render("emails/digest", ctx)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[first.recipient_email],
        headers={NOTICE_HEADER: ", ".join(notice_key(row) for row, _ in notices)},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    message.attach_alternative(html, "text/html")
    return message


def notice_key(row: Notice) -> str:
    """'play:step' as in every earlier release; later assignment rounds are 'play:a<n>'."""
    if row.kind == NoticeKind.ASSIGNED and row.step:
        return f"{row.play_id}:a{row.step}"
    if row.kind == NoticeKind.MENTION:
        return f"{row.play_id}:m{row.step}"
    return f"{row.play_id}:{row.step}"


def notices_send(*, notices: list[tuple[Notice, Play]], now: datetime) -> None:
    """Hand one email to the mail backend; raises whatever the backend raises. A recipient
    who turned email off gets nothing here: their chat channels carry the notice."""
    if not email_wanted(notices[0][0].recipient_id):
        return
    _build_message(notices, now).send(fail_silently=False)
