"""Celery entry point of the weekly tuning digest (beat: Monday 08:00 in TIME_ZONE, see
config/schedules.py). Its own module, imported by TuningConfig.ready: Celery autodiscovers
only `tasks` modules."""

from celery import shared_task

from .digest import DigestNotSent, digests_send


@shared_task(
    name="tuning.digest_tasks.digest_send",
    acks_late=True,
    autoretry_for=(DigestNotSent,),
    retry_backoff=60,
    max_retries=5,
)
def digest_send() -> int:
    """Send this week's digest to whoever has not had it (a second beat sends nothing; a
    retry sends only what failed)."""
    return digests_send()
