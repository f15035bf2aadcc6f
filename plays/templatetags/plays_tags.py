from django import template
from django.utils import timezone
from django.utils.html import format_html

from plays.notifications import humanize_duration

register = template.Library()


@register.simple_tag
def countdown(play, now=None):
    """'due in 3 h 10 min' or 'overdue by 5 h' (red), kept live by static/js/countdown.js."""
    now = now or timezone.now()
    if play.status != "pending":
        if play.started_at:
            on_time = play.started_at <= play.due_at
            text = "started on time" if on_time else "started late"
            return format_html('<span class="sla sla-done">{}</span>', text)
        return ""
    delta = play.due_at - now
    overdue = delta.total_seconds() < 0
    at_risk = not overdue and play.remind_at and play.remind_at <= now
    text = (
        f"overdue by {humanize_duration(delta)}"
        if overdue
        else f"due in {humanize_duration(delta)}"
    )
    css = "sla-overdue" if overdue else "sla-risk" if at_risk else "sla-ok"
    return format_html(
        '<span class="sla {}" data-due="{}" data-remind="{}">{}</span>',
        css,
        play.due_at.isoformat(),
        play.remind_at.isoformat() if play.remind_at else "",
        text,
    )


@register.filter
def percent(value):
    return f"{value * 100:.0f} %" if isinstance(value, int | float) else "—"


@register.filter
def hours(value):
    return f"{value:.1f} h" if isinstance(value, int | float) else "—"


@register.filter
def label(value):
    """'window_days' → 'window days'."""
    return str(value).replace("_", " ")
