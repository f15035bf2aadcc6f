"""The tuning lab's records: backtest runs (backtests.py) and digest subscriptions
(digests.py)."""
