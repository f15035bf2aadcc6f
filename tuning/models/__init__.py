"""The tuning lab's records: backtest runs (backtests.py) and digest subscriptions
(digests.py)."""

from .digests import DigestDelivery, DigestSubscription

__all__ = ["DigestDelivery", "DigestSubscription"]
