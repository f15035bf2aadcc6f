"""The reports' selectors: read-only figures for the queue, the team board, the overview
and the reports page (urgency, team health, SLA compliance, notices per level).

Aggregates run in SQL; only the percentiles of time-to-start are computed in Python, over
one column of the plays in the period (bounded by the date range), to stay portable.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from mqaflow.models import Owner

from .models import OPEN_STATUSES, Notice, NoticeKind, NoticeStatus, Play, PlayLogEntry, PlayStatus
from .selectors import REOPEN_WINDOW, team_ids

COMPLIANCE_DEFINITION = (
    "Of the plays an ADR held at their deadline, the share they started (or dismissed "
    "themselves) by the deadline. A play withdrawn before its deadline, or dismissed before "
    "it by someone else, counts for nobody."
)


def with_level(*, qs: QuerySet) -> QuerySet:
    """Annotate each play with how many escalation levels were sent (its escalation level)."""
    return qs.annotate(
        escalation_level=Count(
            "notices",
            filter=Q(notices__kind=NoticeKind.ESCALATION, notices__status=NoticeStatus.SENT),
        )
    )


def open_plays_by_urgency(*, qs: QuerySet) -> QuerySet:
    return (
        with_level(qs=qs.filter(status__in=OPEN_STATUSES))
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
    load_week: int = 0
    outcomes: dict = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return self.owner.weekly_play_capacity

    @property
    def over_capacity(self) -> bool:
        return self.load_week > self.capacity


def team_summary(*, manager: Owner | None, now: datetime | None = None) -> list[AdrSummary]:
    """Per owner of the manager's subtree (None: the whole organisation, for admins): open
    plays, at-risk, breached, 30-day compliance, and plays received this week against the
    owner's weekly capacity."""
    now = now or timezone.now()
    ids = team_ids(manager=manager)
    owners = {o.pk: o for o in Owner.objects.filter(pk__in=ids).order_by("name")}
    pending = Q(status=PlayStatus.PENDING)
    counts: dict[int, dict[str, Any]] = {
        row["assignee_id"]: dict(row)
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
        key="holder_id",
        qs=Play.objects.all(),
        start=now - timedelta(days=30),
        end=now,
        holders=ids,
    )
    load = weekly_load(ids=ids, now=now)
    won: dict[int, dict] = {}
    for done in (
        Play.objects.filter(
            assignee_id__in=ids,
            status=PlayStatus.COMPLETED,
            completed_at__gte=now - timedelta(days=30),
        )
        .values("assignee_id", "outcome")
        .annotate(n=Count("id"))
    ):
        won.setdefault(done["assignee_id"], {})[done["outcome"] or "none"] = done["n"]
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
                load_week=load.get(pk, 0),
                outcomes=won.get(pk, {}),
            )
        )
    return result


def with_holder(*, qs: QuerySet) -> QuerySet:
    """Annotate who held each play when its SLA was decided (at its start if started in
    time, else at its deadline), their team, and whether they dismissed it themselves."""
    decided_at = Least(Coalesce("started_at", "due_at"), "due_at")
    last_move = (
        PlayLogEntry.objects.filter(
            play=OuterRef("pk"), to_assignee__isnull=False, at__lte=OuterRef("decided_at")
        )
        .order_by("-at", "-pk")
        .values("to_assignee")[:1]
    )
    holder = Owner.objects.filter(pk=OuterRef("holder_id"))
    return (
        qs.annotate(decided_at=decided_at)
        .annotate(
            holder_id=Coalesce(
                Subquery(last_move), F("assignee_id"), output_field=BigIntegerField()
            )
        )
        .annotate(
            holder_user_id=Subquery(holder.values("user_id")[:1]),
            holder_team=Subquery(holder.values("manager__name")[:1]),
        )
        .annotate(
            self_dismissed=Case(
                When(dismissed_by_id=F("holder_user_id"), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )


def _decided(qs: QuerySet, start: datetime, end: datetime) -> QuerySet:
    """Plays created in the period whose SLA outcome is known (acted on, or past due),
    without those that count for nobody (see COMPLIANCE_DEFINITION)."""
    return (
        with_holder(qs=qs.filter(created_at__gte=start, created_at__lt=end))
        .filter(Q(started_at__isnull=False) | Q(due_at__lte=end))
        .exclude(status=PlayStatus.WITHDRAWN, withdrawn_at__lte=F("due_at"))
        .exclude(status=PlayStatus.DISMISSED, dismissed_at__lte=F("due_at"), self_dismissed=False)
    )


def sla_compliance_by(
    *, key: str, qs: QuerySet, start: datetime, end: datetime, holders: set[int] | None = None
) -> dict:
    """{key value: {"plays", "on_time", "share", "median_h", "p90_h"}}; `key` may be a field
    or "holder_id" / "holder_team" (who held the play at its deadline, and their team)."""
    decided = _decided(qs, start, end)
    if holders is not None:
        decided = decided.filter(holder_id__in=holders)
    in_time = Q(started_at__lte=F("due_at")) | Q(self_dismissed=True, dismissed_at__lte=F("due_at"))
    rows = decided.values(key).annotate(plays=Count("id"), on_time=Count("id", filter=in_time))
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


def sla_compliance_by_team(*, start: datetime, end: datetime) -> dict[str, dict]:
    """By the assignee's manager (the team)."""
    rows = sla_compliance_by(key="holder_team", qs=Play.objects.all(), start=start, end=end)
    return {name or "No manager": figures for name, figures in rows.items()}


def escalations_per_level(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = (
        Notice.objects.filter(
            kind=NoticeKind.ESCALATION,
            status=NoticeStatus.SENT,
            sent_at__gte=start,
            sent_at__lt=end,
        )
        .values("level")
        .annotate(count=Count("id"))
        .order_by("level")
    )
    return [dict(row) for row in rows]


def dismissals_by_rule(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Why plays were dismissed, per MQA rule: the feedback marketing tunes thresholds with."""
    rows = (
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
    return [dict(row) for row in rows]


def recent_adr_dismissals(*, manager: Owner | None, now: datetime | None = None) -> list[Play]:
    """Plays of the manager's team (None: everyone's) that the ADR dismissed themselves
    within the reopen window: the ones a manager may want to second-guess."""
    now = now or timezone.now()
    ids = team_ids(manager=manager)
    newer_open = Play.objects.filter(account=OuterRef("account"), status__in=OPEN_STATUSES)
    return list(
        Play.objects.filter(
            assignee_id__in=ids,
            status=PlayStatus.DISMISSED,
            dismissed_at__gte=now - REOPEN_WINDOW,
            dismissed_by=F("assignee__user"),
        )
        .annotate(account_has_open_play=Exists(newer_open))
        .select_related("account", "assignee", "dismissed_reason")
        .order_by("-dismissed_at")
    )


# --- the ADR queue and the team board -------------------------------------------------------

DUE_FILTERS = {
    "today": "Due today",
    "at_risk": "At risk",
    "overdue": "Overdue",
}
QUEUE_SORTS = {
    "urgency": "Urgency",
    "qualified": "Newest qualification",
    "account": "Account",
}


def _due_q(due: str, now: datetime) -> Q:
    """Pending plays due today (local day, not yet overdue), at risk or overdue."""
    pending = Q(status=PlayStatus.PENDING)
    if due == "overdue":
        return pending & Q(due_at__lte=now)
    if due == "at_risk":
        return pending & Q(remind_at__lte=now, due_at__gt=now)
    if due == "today":
        end = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=999999)
        return pending & Q(due_at__gt=now, due_at__lte=end)
    raise ValueError(due)


def queue_counts(*, qs: QuerySet, now: datetime) -> dict:
    """How many plays each queue filter would show, in one aggregate query."""
    aggregates = {f"status_{value}": Count("id", filter=Q(status=value)) for value in PlayStatus}
    aggregates["status_open"] = Count("id", filter=Q(status__in=OPEN_STATUSES))
    for due in DUE_FILTERS:
        aggregates[f"due_{due}"] = Count("id", filter=_due_q(due, now))
    for funnel in (1, 2, 3):
        aggregates[f"funnel_{funnel}"] = Count(
            "id", filter=Q(account__funnel=funnel, status__in=OPEN_STATUSES)
        )
    return qs.aggregate(**aggregates)


def queue(
    *,
    qs: QuerySet,
    now: datetime,
    status: str = "open",
    funnel: int | None = None,
    due: str = "",
    search: str = "",
    sort: str = "urgency",
) -> QuerySet:
    """The plays a list shows: filtered by status ("open" = pending and started, "closed" =
    completed and dismissed), funnel,
    deadline bucket and a search on the account's name or domain; sorted by urgency
    (unstarted first, the nearest deadline first), newest qualification or account name."""
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status == "closed":
        qs = qs.filter(status__in=[PlayStatus.COMPLETED, PlayStatus.DISMISSED])
    elif status:
        qs = qs.filter(status=status)
    if funnel:
        qs = qs.filter(account__funnel=funnel)
    if due:
        qs = qs.filter(_due_q(due, now))
    if search:
        qs = qs.filter(Q(account__name__icontains=search) | Q(account__domain__icontains=search))
    qs = with_level(qs=qs).select_related("account", "assignee", "transition")
    if sort == "qualified":
        return qs.order_by("-created_at", "pk")
    if sort == "account":
        return qs.order_by("account__name", "pk")
    return qs.order_by(
        Case(When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1)),
        F("started_at").desc(nulls_first=True),
        "due_at",
        "pk",
    )


def next_step(*, play: Play, now: datetime) -> str:
    """What happens next to a pending play if nobody acts: "manager told in 3 h 12 min"."""
    from .notifications import humanize_duration

    if play.status != PlayStatus.PENDING:
        return ""
    entries = sorted(play.plan or [], key=lambda e: e["at"])
    for entry in entries:
        at = datetime.fromisoformat(entry["at"])
        if at <= now:
            continue
        when = humanize_duration(at - now)
        if entry["kind"] == NoticeKind.REMINDER:
            return f"reminder in {when}"
        if entry.get("to_top"):
            return f"top of the chain told in {when}"
        if entry.get("levels_up") == 1:
            return f"manager told in {when}"
        return f"{entry.get('levels_up')} levels up told in {when}"
    if play.due_at <= now:
        return "every escalation sent" if entries else "past its deadline"
    return ""


def week_start(*, now: datetime) -> datetime:
    local = timezone.localtime(now)
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def weekly_load(*, ids: set[int], now: datetime) -> dict[int, int]:
    """Plays each owner received this week (created for them or moved to them, Monday on)."""
    since = week_start(now=now)
    received = (
        PlayLogEntry.objects.filter(
            to_assignee_id__in=ids, at__gte=since, kind__in=["created", "reassigned"]
        )
        .values("to_assignee_id")
        .annotate(n=Count("play", distinct=True))
    )
    return {row["to_assignee_id"]: row["n"] for row in received}


def org_overview(*, now: datetime | None = None) -> dict:
    """Open, at-risk and breached plays across the organisation (the staff landing)."""
    now = now or timezone.now()
    pending = Q(status=PlayStatus.PENDING)
    totals = Play.objects.aggregate(
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        at_risk=Count("id", filter=pending & Q(remind_at__lte=now, due_at__gt=now)),
        breached=Count("id", filter=pending & Q(due_at__lte=now)),
    )
    escalated = Notice.objects.filter(
        kind=NoticeKind.ESCALATION, status=NoticeStatus.SENT, play__status__in=OPEN_STATUSES
    )
    totals["escalated"] = escalated.values("play").distinct().count()
    return totals


def outcomes(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Completed plays per outcome (what the ADRs' work led to), by completion date."""
    rows = (
        Play.objects.filter(
            status=PlayStatus.COMPLETED, completed_at__gte=start, completed_at__lt=end
        )
        .values("outcome")
        .annotate(count=Count("id"))
        .order_by("outcome")
    )
    return [dict(row) for row in rows]
