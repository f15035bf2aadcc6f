"""The tuning lab's records: backtest runs (backtests.py) and digest subscriptions
(digests.py)."""

from .backtests import MAX_WEEKS, BacktestRun, BacktestStatus
from .digests import DigestDelivery, DigestSubscription

__all__ = ["MAX_WEEKS", "BacktestRun", "BacktestStatus", "DigestDelivery", "DigestSubscription"]
