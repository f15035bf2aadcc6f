"""Read-side queries for the web UI and reports: urgency, team health, SLA compliance.

Aggregates run in SQL; only the percentiles of time-to-start are computed in Python, over
one column of the plays in the period (bounded by the date range), to stay portable.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from mqaflow.models import Owner

from .models import OPEN_STATUSES, Escalation, Play, PlayStatus


def with_level(qs: QuerySet) -> QuerySet:
    """Annotate each play with how many escalation levels were sent (its escalation level)."""
    return qs.annotate(
        escalation_level=Count(
            "escalations",
            filter=Q(escalations__kind="escalation", escalations__status="sent"),
        )
    )


def open_plays_by_urgency(qs: QuerySet) -> QuerySet:
    return (
        with_level(qs.filter(status__in=OPEN_STATUSES))
        .select_related("account", "assignee", "transition")
        .order_by(F("started_at").desc(nulls_first=True), "due_at", "pk")
    )


@dataclass
class AdrSummary:
    owner: Owner
    open: int
    at_risk: int
    breached: int
    oldest_waiting: datetime | None
    compliance: float | None
    plays: list[Play]


def team_summary(manager: Owner, *, now: datetime | None = None) -> list[AdrSummary]:
    """Per owner of the manager's subtree: open plays, at-risk, breached, 30-day compliance."""
    now = now or timezone.now()
    ids = manager.subtree_ids() - {manager.pk}
    owners = {o.pk: o for o in Owner.objects.filter(pk__in=ids).order_by("name")}
    pending = Q(status=PlayStatus.PENDING)
    counts = {
        row["assignee_id"]: row
        for row in Play.objects.filter(assignee_id__in=ids)
        .values("assignee_id")
        .annotate(
            open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            at_risk=Count("id", filter=pending & Q(remind_at__lte=now, due_at__gt=now)),
            breached=Count("id", filter=pending & Q(due_at__lte=now)),
            oldest=Min("created_at", filter=pending),
        )
    }
    compliance = sla_compliance_by(
        "assignee_id", Play.objects.filter(assignee_id__in=ids), now - timedelta(days=30), now
    )
    plays: dict[int, list[Play]] = {}
    for play in open_plays_by_urgency(Play.objects.filter(assignee_id__in=ids)):
        plays.setdefault(play.assignee_id, []).append(play)
    result = []
    for pk, owner in owners.items():
        row = counts.get(pk, {})
        result.append(
            AdrSummary(
                owner=owner,
                open=row.get("open", 0),
                at_risk=row.get("at_risk", 0),
                breached=row.get("breached", 0),
                oldest_waiting=row.get("oldest"),
                compliance=compliance.get(pk, {}).get("share"),
                plays=plays.get(pk, []),
            )
        )
    return result


def _decided(qs: QuerySet, start: datetime, end: datetime) -> QuerySet:
    """Plays created in the period whose SLA outcome is known (started, or past due)."""
    return qs.filter(created_at__gte=start, created_at__lt=end).filter(
        Q(started_at__isnull=False) | Q(due_at__lte=end)
    )


def sla_compliance_by(key: str, qs: QuerySet, start: datetime, end: datetime) -> dict:
    """{key value: {"plays", "on_time", "share", "median_h", "p90_h"}}."""
    decided = _decided(qs, start, end)
    rows = decided.values(key).annotate(
        plays=Count("id"), on_time=Count("id", filter=Q(started_at__lte=F("due_at")))
    )
    result = {
        r[key]: {
            "plays": r["plays"],
            "on_time": r["on_time"],
            "share": r["on_time"] / r["plays"] if r["plays"] else None,
        }
        for r in rows
    }
    durations: dict = {}
    for value, created, started in decided.filter(started_at__isnull=False).values_list(
        key, "created_at", "started_at"
    ):
        durations.setdefault(value, []).append((started - created).total_seconds() / 3600)
    for value, hours in durations.items():
        result[value]["median_h"] = statistics.median(hours)
        result[value]["p90_h"] = (
            statistics.quantiles(hours, n=10, method="inclusive")[-1]
            if len(hours) > 1
            else hours[0]
        )
    return result


def sla_compliance_by_team(start: datetime, end: datetime) -> dict[str, dict]:
    """By the assignee's manager (the team)."""
    rows = sla_compliance_by("assignee__manager__name", Play.objects.all(), start, end)
    return {name or "No manager": figures for name, figures in rows.items()}


def escalations_per_level(start: datetime, end: datetime) -> list[dict]:
    return list(
        Escalation.objects.filter(
            kind="escalation", status="sent", sent_at__gte=start, sent_at__lt=end
        )
        .values("level")
        .annotate(count=Count("id"))
        .order_by("level")
    )


def dismissals_by_rule(start: datetime, end: datetime) -> list[dict]:
    """Why plays were dismissed, per MQA rule: the feedback marketing tunes thresholds with."""
    return list(
        Play.objects.filter(
            status=PlayStatus.DISMISSED, dismissed_at__gte=start, dismissed_at__lt=end
        )
        .values(
            rule=F("transition__rule__name"),
            act_now=F("transition__act_now_rule__name"),
            reason=F("dismissed_reason__label"),
        )
        .annotate(count=Count("id"))
        .order_by("rule", "reason")
    )
