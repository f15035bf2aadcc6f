"""Celery entry points of the tuning lab; the work is in tuning.backtests."""

from celery import shared_task

from .backtests import backtest_execute


@shared_task(acks_late=True)
def backtest_run(run_id: int) -> str:
    """Execute a queued backtest run; a repeated message finds it taken and does nothing."""
    run = backtest_execute(run_id=run_id)
    return "skipped" if run is None else run.status
