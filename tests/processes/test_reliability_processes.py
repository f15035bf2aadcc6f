"""Fault scenarios with real processes: Celery workers and beats, Redis, an SMTP server."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from mqaflow.models import Account, MQATransition
from plays.models import Notice, Play
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    activity,
    org_chart,
    qualified_plays,
)
from tests.support.processes import (
    beat,
    lock_waiter,
    process_env,
    runs_after,
    stop,
    wait_for,
    worker,
)
from tests.support.reliability_support import FlakySMTPHandler, start_smtp

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp():
    handler = FlakySMTPHandler()
    controller = start_smtp(handler)
    yield handler, controller.port
    controller.stop()


def test_two_workers_and_two_beats_send_every_due_step_exactly_once(broker, smtp, tmp_path):
    handler, port = smtp
    people = org_chart()
    now = timezone.now()
    batches = {25: 120, 49: 80, 73: 50}  # hours ago → plays
    expected = 0
    for hours, n in batches.items():
        qualified_plays(people["adr"], n, now - timedelta(hours=hours))
        # the new-play notice (published to Redis at creation), the reminder, the due steps
        expected += n * {25: 3, 49: 4, 73: 5}[hours]
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.filter(task="plays.tasks.escalations_sweep_task").update(
        interval=every_second
    )
    PeriodicTask.objects.exclude(task="plays.tasks.escalations_sweep_task").update(enabled=False)
    env = process_env(port)
    procs = [
        worker(env, "w1"),
        worker(env, "w2"),
        beat(env, "b1", tmp_path),
        beat(env, "b2", tmp_path),
    ]
    try:
        wait_for(lambda: len(handler.notice_headers()) >= expected, timeout=120)
        # two more sweeps that started after the last notice arrived: nothing new goes out
        settled = runs_after(procs, "plays.tasks.escalations_sweep_task")
    finally:
        logs = stop(*procs)
    assert settled, logs[-4000:]
    headers = handler.notice_headers()
    assert len(headers) == expected, logs[-4000:]
    # digests: far fewer emails than notices (one per recipient per sweep)
    assert len(handler.messages) < expected
    assert len(set(headers)) == len(headers)
    sent = {
        f"{p}:{s}" for p, s in Notice.objects.filter(status="sent").values_list("play_id", "step")
    }
    assert sent == set(headers)
    assert logs.count("escalations_sweep_task") > 4


def test_worker_killed_mid_send_and_mid_recompute_loses_and_duplicates_nothing(broker, smtp):
    handler, port = smtp
    people = org_chart()
    now = timezone.now()
    [play] = qualified_plays(people["adr"], 1, now - timedelta(hours=25))
    from plays.tasks import escalations_sweep_task

    # A slow mail server: the worker is killed while it waits for the server's answer.
    received, release = threading.Event(), threading.Event()
    original = handler.handle_DATA

    async def slow(server, session, envelope):
        import asyncio

        received.set()  # the whole message is here; the sender waits for the answer
        while not release.is_set():
            await asyncio.sleep(0.05)
        return await original(server, session, envelope)

    handler.handle_DATA = slow
    env = process_env(port, MQAFLOW_STALE_CLAIM_SECONDS="2")
    first = worker(env, "doomed")
    escalations_sweep_task.apply_async()
    assert wait_for(received.is_set)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    claims = Notice.objects.filter(play=play, status="sending")
    assert claims.exists()  # killed mid-send: the claim was never settled
    # Older than MQAFLOW_STALE_CLAIM_SECONDS, without waiting for the clock.
    claims.update(claimed_at=F("claimed_at") - timedelta(seconds=3))
    release.set()
    handler.handle_DATA = original

    # Meanwhile a recompute is stuck behind a row lock when its worker is killed too.
    account = AccountFactory(funnel=1, owner=people["adr"])
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("demo_request"),
        occurred_at=now - timedelta(minutes=5),
    )
    Account.objects.filter(pk=account.pk).update(last_event_ingested_at=now)
    from mqaflow.tasks import recompute_accounts, recompute_pending

    holder_ready, holder_release = threading.Event(), threading.Event()
    holder_pid = []

    def hold_lock():
        with transaction.atomic():
            Account.objects.select_for_update().get(pk=account.pk)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                holder_pid.append(cursor.fetchone()[0])
            holder_ready.set()
            holder_release.wait(60)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holder_ready.wait(10)
    second = worker(env, "doomed2")
    recompute_accounts.apply_async(args=[[account.pk]])
    # the worker has taken the task and its backend waits for the holder's row lock
    assert wait_for(lambda: lock_waiter("doomed2", holder_pid[0]), timeout=60)
    second.send_signal(signal.SIGKILL)
    second.wait(10)
    holder_release.set()
    holder.join(30)

    survivor = worker(env, "survivor")
    try:
        escalations_sweep_task.apply_async()  # what beat does every minute
        recompute_pending.apply_async()
        assert wait_for(lambda: Play.objects.filter(account=account).exists(), timeout=60)
        assert wait_for(
            lambda: (
                not Notice.objects.filter(play=play, status__in=["pending", "sending"]).exists()
            ),
            timeout=60,
        )
    finally:
        logs = stop(survivor)
    assert MQATransition.objects.filter(account=account).count() == 1
    assert Play.objects.filter(account=account).count() == 1
    statuses = dict(play.notices.values_list("step", "status"))
    assert statuses[1] == "sent" and statuses[2] == "sent", logs[-3000:]
    # At-least-once with at most one duplicate for the message cut off mid-send.
    for step in (1, 2):
        assert 1 <= handler.notice_headers().count(f"{play.pk}:{step}") <= 2
