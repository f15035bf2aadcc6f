"""Re-crediting stored events with the weights in force now.

Credited minutes are fixed at ingest on purpose (a weight change applies to new events
only, so past decisions stay explainable); re-weighting is the deliberate exception, asked
for by `manage.py reweight_events` when a change should apply to history too.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from mqaflow.ingest import credited_minutes
from mqaflow.models import ActivityType, EngagementEvent, Seniority, SeniorityMultiplier


class UnknownActivity(ValueError):
    """The activity type asked for does not exist."""


def events_reweight(
    *,
    since: date | None = None,
    activity: str | None = None,
    seniority: str | None = None,
    keep_explicit: bool = False,
    dry_run: bool = False,
) -> int:
    """Set every matching event's minutes to activity minutes × seniority multiplier.

    `since`: only events on or after that day (in the current time zone); `activity`: only
    events of that activity type key; `seniority`: only events of contacts of that
    seniority. Minutes a source sent explicitly are overwritten too, unless `keep_explicit`
    (a promotion keeps them: only weights change, not what sources said).
    Returns how many events matched (and, unless `dry_run`, were re-weighted); the caller
    recomputes MQAs when it wants the new weights to count.
    """
    events = EngagementEvent.objects.all()
    activities = ActivityType.objects.all()
    if since is not None:
        tz = timezone.get_current_timezone()
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if activity:
        activities = activities.filter(key=activity)
        if not activities:
            raise UnknownActivity(f"no activity type {activity!r}")
        events = events.filter(activity__key=activity)
    if seniority:
        events = events.filter(contact__seniority=seniority)
    if keep_explicit:
        events = events.filter(minutes_explicit=False)
    total = events.count()
    if dry_run:
        return total
    multipliers = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
    with transaction.atomic():
        # One UPDATE per (activity, seniority): a handful of set-based statements.
        for act in activities:
            of_activity = events.filter(activity=act)
            if not seniority:
                of_activity.filter(contact__isnull=True).update(
                    minutes=credited_minutes(act.minutes, None)
                )
            for level in [seniority] if seniority else Seniority.values:
                ids = of_activity.filter(contact__seniority=level).values("pk")
                EngagementEvent.objects.filter(pk__in=ids).update(
                    minutes=credited_minutes(act.minutes, multipliers.get(level))
                )
    return total
