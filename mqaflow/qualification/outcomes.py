"""What MQAs led to: conversion to an opportunity, and its pipeline.

An MQA is **converted** when its account gets an opportunity created within N days after it
qualified: `qualified_at <= created_at < qualified_at + N days` (an opportunity created
before the qualification, or exactly N days after, does not count it). Its **pipeline** is
the sum of those opportunities' amounts, as given: amounts in several currencies are added
as they are (mqaflow converts no currency), and an opportunity without an amount counts 0.

Two ways in, one rule:
- `conversion_annotate` adds `converted` and `pipeline` to a queryset of stored
  transitions in SQL (EXISTS and a correlated SUM), so reports aggregate in the database;
- `mqa_conversions` answers for arbitrary (account, moment) pairs, such as the
  qualifications a backtest replays and never stores, with one query over the opportunities
  of those accounts (they are few per account) and the windows compared in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from mqaflow.models import MQAStatus, MQATransition, Opportunity

# Accounts per query of `mqa_conversions` (keeps the IN list of a big backtest bounded).
ACCOUNTS_PER_QUERY = 5000
_MONEY = DecimalField(max_digits=20, decimal_places=2)

Moment = datetime | date


@dataclass(frozen=True)
class Conversion:
    converted: bool
    pipeline: Decimal
    opportunity_ids: tuple[int, ...] = ()


def conversion_window(moment: Moment, *, days: int) -> tuple[datetime, datetime]:
    """[start, end) of the opportunities that convert a qualification at `moment`.

    A date (a backtest's qualification day) starts at its midnight in TIME_ZONE and the
    window ends N calendar days later, at midnight too, whatever DST does meanwhile."""
    if days < 1:
        raise ValueError("days must be at least 1.")
    if isinstance(moment, datetime):
        return moment, moment + timedelta(days=days)
    zone = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(moment, time.min), zone)
    end = timezone.make_aware(datetime.combine(moment + timedelta(days=days), time.min), zone)
    return start, end


def _window_opportunities(*, days: int) -> QuerySet[Opportunity]:
    """The opportunities converting the outer transition (correlated on account and `at`)."""
    end = ExpressionWrapper(OuterRef("at") + timedelta(days=days), output_field=DateTimeField())
    return Opportunity.objects.filter(
        account=OuterRef("account"), created_at__gte=OuterRef("at"), created_at__lt=end
    ).order_by()


def _conversion_expressions(*, days: int) -> tuple[Exists, Coalesce]:
    """`converted` and `pipeline` of the outer transition, as SQL expressions."""
    if days < 1:
        raise ValueError("days must be at least 1.")
    window = _window_opportunities(days=days)
    total = window.values("account").annotate(total=Sum("amount")).values("total")
    pipeline = Coalesce(
        Subquery(total, output_field=_MONEY), Value(Decimal(0)), output_field=_MONEY
    )
    return Exists(window), pipeline


def conversion_annotate(
    transitions: QuerySet[MQATransition], *, days: int
) -> QuerySet[MQATransition]:
    """`transitions` with `converted` (bool) and `pipeline` (Decimal, 0 when none).

    Meant for transitions to "mqa" (`mqa_transitions()`); any transition's `at` is taken as
    the moment it is measured from."""
    converted, pipeline = _conversion_expressions(days=days)
    return transitions.annotate(converted=converted, pipeline=pipeline)


def mqa_transitions() -> QuerySet[MQATransition]:
    """Every qualification: the transitions to "mqa"."""
    return MQATransition.objects.filter(to_status=MQAStatus.MQA)


@dataclass(frozen=True)
class ConversionSummary:
    mqas: int
    converted: int
    pipeline: Decimal

    @property
    def rate(self) -> float | None:
        """Converted MQAs / MQAs; None when there were none."""
        return self.converted / self.mqas if self.mqas else None


def conversion_summary(
    *, transitions: QuerySet[MQATransition] | None = None, days: int
) -> ConversionSummary:
    """How many of these qualifications (default: all) converted, and their pipeline, in one
    aggregate query."""
    qs = mqa_transitions() if transitions is None else transitions
    converted, pipeline = _conversion_expressions(days=days)
    figures = qs.order_by().aggregate(
        mqas=Count("pk"),
        converted=Count("pk", filter=Q(converted)),
        pipeline=Sum(pipeline, output_field=_MONEY),
    )
    return ConversionSummary(
        mqas=figures["mqas"],
        converted=figures["converted"],
        pipeline=figures["pipeline"] or Decimal(0),
    )


def mqa_conversions(
    *, pairs: Iterable[tuple[int, Moment]], days: int
) -> dict[tuple[int, Moment], Conversion]:
    """{(account id, qualification moment): Conversion} for each pair given.

    A moment is a datetime (qualified_at) or a date (a day's qualification, from its
    midnight in TIME_ZONE; see `conversion_window`). Repeated pairs are answered once."""
    windows = {pair: conversion_window(pair[1], days=days) for pair in pairs}
    if not windows:
        return {}
    earliest = min(start for start, _ in windows.values())
    latest = max(end for _, end in windows.values())
    account_ids = sorted({account_id for account_id, _ in windows})
    found: dict[int, list[tuple[datetime, Decimal, int]]] = defaultdict(list)
    for first in range(0, len(account_ids), ACCOUNTS_PER_QUERY):
        rows = (
            Opportunity.objects.filter(
                account_id__in=account_ids[first : first + ACCOUNTS_PER_QUERY],
                created_at__gte=earliest,
                created_at__lt=latest,
            )
            .order_by("created_at", "pk")
            .values_list("account_id", "created_at", "amount", "pk")
        )
        for account_id, created_at, amount, pk in rows:
            found[account_id].append((created_at, amount or Decimal(0), pk))
    answer: dict[tuple[int, Moment], Conversion] = {}
    for pair, (start, end) in windows.items():
        inside = [o for o in found.get(pair[0], ()) if start <= o[0] < end]
        answer[pair] = Conversion(
            converted=bool(inside),
            pipeline=sum((amount for _, amount, _ in inside), Decimal(0)),
            opportunity_ids=tuple(pk for _, _, pk in inside),
        )
    return answer
