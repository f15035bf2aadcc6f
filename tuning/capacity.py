"""ADR capacity under the bandwidth calendar: a factor of 1.5 (thresholds raised because
fewer ADRs are in) leaves two thirds of a normal week's capacity. Shared by the backtest's
load table and the weekly digest."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from mqaflow.models import BandwidthPeriod, RuleSet


def capacity_shares(*, rule_set: RuleSet, weeks: list[date]) -> list[float]:
    """Per week, the share of a normal week's capacity the set's bandwidth calendar leaves:
    the mean over its days of 1 / factor (the highest factor of a day wins, as in the
    engine's rulebook)."""
    periods = list(
        BandwidthPeriod.objects.filter(
            rule_set=rule_set, starts_on__lte=weeks[-1] + timedelta(days=6), ends_on__gte=weeks[0]
        ).values_list("starts_on", "ends_on", "factor")
    )
    shares = []
    for monday in weeks:
        total = Decimal(0)
        for i in range(7):
            day = monday + timedelta(days=i)
            factors = [f for s, e, f in periods if s <= day <= e]
            total += 1 / max(factors) if factors else Decimal(1)
        shares.append(float(total / 7))
    return shares
