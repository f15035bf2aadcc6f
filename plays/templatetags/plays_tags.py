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
    # Colour is never the only signal: the words say overdue or at risk too.
    text = (
        f"overdue by {humanize_duration(delta)}"
        if overdue
        else f"at risk: due in {humanize_duration(delta)}"
        if at_risk
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


_LABELS: dict = {"at": 0.0, "labels": {}}


def _code_labels() -> dict[str, str]:
    """Choice codes people should never see raw: seniority, persona, outcome, activity
    (activity names are admin-editable: read again after a minute)."""
    import time

    if time.monotonic() - _LABELS["at"] > 60 or not _LABELS["labels"]:
        _LABELS["labels"], _LABELS["at"] = _read_labels(), time.monotonic()
    return _LABELS["labels"]


def _read_labels() -> dict[str, str]:
    from mqaflow.models import ActivityType, Persona, Seniority
    from plays.models import PlayOutcome

    labels = {}
    for choices in (Seniority, Persona, PlayOutcome):
        labels.update({str(value): str(text) for value, text in choices.choices})
    labels.update(dict(ActivityType.objects.values_list("key", "name")))
    labels.update(FIGURE_LABELS)
    return labels


FIGURE_LABELS = {
    "window_days": "Window (days)",
    "minutes": "Engaged minutes",
    "events": "Events",
    "people": "People",
    "personas": "Personas",
    "top_seniority": "Most senior",
}


@register.filter
def label(value):
    """A code as people say it: 'c_level' → 'C-level', 'demo_request' → 'Demo request',
    'window_days' → 'Window (days)'; an unknown code loses its underscores."""
    text = str(value)
    known = _code_labels().get(text)
    if known:
        return known
    return text.replace("_", " ")


@register.simple_tag
def next_step(play, now=None):
    """ "manager told in 3 h 12 min": what happens to a pending play if nobody acts."""
    from plays.reports import next_step as compute

    return compute(play=play, now=now or timezone.now())


@register.filter
def get(mapping, key):
    """A dict entry by a computed key: {{ counts|get:key }}."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def index(sequence, position):
    """The item at a position: {{ columns|index:forloop.counter0 }}."""
    try:
        return sequence[position]
    except (IndexError, TypeError, KeyError):
        return ""
