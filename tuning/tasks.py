"""Celery entry points of the tuning lab; the work is in tuning.backtests."""

from celery import shared_task

from .backtests import backtest_execute, backtest_is_running
from .models.backtests import STALLED_AFTER


@shared_task(bind=True, acks_late=True, max_retries=3)
def backtest_run(self, run_id: int) -> str:
    """Execute a queued backtest run; a repeated message finds it taken and does nothing.

    A message redelivered because its worker died finds the run still "running" with a fresh
    heartbeat: it comes back once the heartbeat is stale, and takes the run over then."""
    run = backtest_execute(run_id=run_id)
    if run is None and backtest_is_running(run_id=run_id):
        raise self.retry(countdown=STALLED_AFTER.total_seconds())
    return "skipped" if run is None else run.status
