"""Rendering and sending play emails: three templates per kind (subject, text, HTML)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from .models import Escalation, Play
from .routing import relation


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


def context_for(escalation: Escalation, play: Play, now: datetime) -> dict:
    recipient_name = escalation.recipient.name if escalation.recipient else ""
    late = now - play.due_at
    return {
        "escalation": escalation,
        "play": play,
        "account": play.account,
        "assignee": play.assignee,
        "recipient_name": recipient_name,
        "who": relation(escalation.level, play.assignee.name),
        "explanation": play.transition.explanation or play.account.mqa_explanation,
        "waiting": humanize_duration(now - play.created_at),
        "late": humanize_duration(late) if late > timedelta(0) else "",
        "due_in": humanize_duration(-late) if late <= timedelta(0) else "",
        "due_at": play.due_at,
        "link": play.link,
        "level_label": _level_label(escalation),
        "site_url": settings.SITE_URL,
    }


def _level_label(escalation: Escalation) -> str:
    if escalation.kind != "escalation":
        return escalation.get_kind_display()
    return f"Escalation level {escalation.level}"


def build_message(escalation: Escalation, play: Play, now: datetime) -> EmailMultiAlternatives:
    ctx = context_for(escalation, play, now)
    base = f"emails/{escalation.kind}"
    subject = " ".join(render_to_string(f"{base}-subject.txt", ctx).split())
    text = render_to_string(f"{base}-body.txt", ctx)
    html = render_to_string(f"{base}-body.html", ctx)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[escalation.recipient_email],
        headers={"X-Mqaflow-Escalation": f"{play.pk}:{escalation.step}"},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    message.attach_alternative(html, "text/html")
    return message


def send_notice(escalation: Escalation, play: Play, now: datetime) -> None:
    """Hand one notice to the mail backend; raises whatever the backend raises."""
    build_message(escalation, play, now).send(fail_silently=False)
