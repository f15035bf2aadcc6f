"""Read-only queries of the account and qualification domain.

Services (`<entity>_<verb>`, keyword-only) change state; what only reads lives here, so a
view, a task or a command can ask without importing the machinery that writes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from mqaflow.models import Account, MQARule, MQAStatus, MQATransition, Opportunity
from mqaflow.models.transitions import RecomputeRun
from mqaflow.qualification.reports import PERIODS, MQACount, report_bounds
from mqaflow.qualification.scheduling import CATCH_UP, CATCH_UP_MARGIN


def rule_accounts(*, rule: MQARule) -> QuerySet[Account]:
    """The accounts a rule's segment covers (funnel and size band; None means any)."""
    qs = Account.objects.all()
    if rule.funnel is not None:
        qs = qs.filter(funnel=rule.funnel)
    band = rule.size_band
    if band is not None:
        qs = qs.filter(employees__gte=band.min_employees)
        if band.max_employees is not None:
            qs = qs.filter(employees__lt=band.max_employees)
    return qs


def pending_account_ids(*, margin: timedelta = CATCH_UP_MARGIN) -> list[int]:
    """Accounts with engagement ingested since the last run that covered them all."""
    cover: datetime | None = (
        RecomputeRun.objects.filter(Q(scope=RecomputeRun.Scope.ALL) | Q(cause=CATCH_UP))
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    pending = Account.objects.filter(last_event_ingested_at__isnull=False)
    if cover is not None:
        pending = pending.filter(last_event_ingested_at__gte=cover - margin)
    return list(pending.order_by("pk").values_list("pk", flat=True))


def new_mqas_by_period(
    *, period: str = "week", start: date | None = None, end: date | None = None
) -> list[MQACount]:
    """Accounts that became MQA per period, funnel and size band; end inclusive.

    Counted as distinct accounts per bucket: an admin editing a rule back and forth (the
    account leaves and re-enters `mqa` within the period) does not double the numbers.
    Transitions snapshot the account's funnel and size band when they happen, so a report
    on last quarter does not move when an account is re-segmented today."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    qs = MQATransition.objects.filter(to_status=MQAStatus.MQA)
    tz = timezone.get_current_timezone()
    if start:  # either end may be open; each closed end is bounded as every report is
        qs = qs.filter(at__gte=report_bounds(start, start)[0])
    if end:
        qs = qs.filter(at__lt=report_bounds(end, end)[1])
    rows = (
        qs.annotate(bucket=PERIODS[period]("at", tzinfo=tz))
        .values("bucket", "funnel", "size_band")
        .annotate(count=Count("account", distinct=True))
        .order_by("bucket", "funnel", "size_band")
    )
    return [
        MQACount(
            period=r["bucket"].date() if isinstance(r["bucket"], datetime) else r["bucket"],
            funnel=r["funnel"],
            size_band=r["size_band"],
            count=r["count"],
        )
        for r in rows
    ]


# How many of an account's opportunities a page lists (the newest).
ACCOUNT_OPPORTUNITIES_SHOWN = 20


def account_opportunities(
    *, account: Account, limit: int = ACCOUNT_OPPORTUNITIES_SHOWN
) -> list[Opportunity]:
    """The account's opportunities, newest first: what its MQAs led to."""
    return list(Opportunity.objects.filter(account=account).order_by("-created_at", "-pk")[:limit])
