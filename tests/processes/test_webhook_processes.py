"""Webhook and chat-notice delivery with real processes: a Celery worker SIGKILLed
mid-delivery, lost broker messages picked up by two beats at once, real local HTTP
receivers."""

from __future__ import annotations

import json
import signal
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from integrations.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import org_chart, qualified_plays
from tests.support.processes import beat, process_env, runs_after, stop, wait_for, worker
from tests.support.webhook_server import WebhookServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_killed_mid_delivery_delivers_after_restart_with_the_same_event_id(broker):
    people = org_chart()
    with WebhookServer([("block", None), 200]) as server:
        WebhookEndpoint.objects.create(name="CRM", url=server.url, event_types=["play.created"])
        env = process_env(WEBHOOK_STALE_CLAIM_SECONDS="2")
        doomed = worker(env, "doomed")
        try:
            qualified_plays(people["adr"], 1, timezone.now())  # publishes after commit
            assert server.received.wait(60), "the worker never posted"
            assert WebhookDelivery.objects.get().status == "sending"
            doomed.send_signal(signal.SIGKILL)  # while the receiver has not answered yet
            doomed.wait(10)
        finally:
            stop(doomed)
        server.release.set()  # the receiver got it; nobody will ever read its answer
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "sending" and delivery.attempts == 1
        # Older than WEBHOOK_STALE_CLAIM_SECONDS, without waiting for the clock.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            claimed_at=F("claimed_at") - timedelta(seconds=3)
        )

        survivor = worker(env, "survivor")
        try:
            from integrations.tasks import webhooks_sweep_task

            webhooks_sweep_task.apply_async()  # what beat does every minute
            assert wait_for(
                lambda: WebhookDelivery.objects.filter(status="delivered").exists(), timeout=60
            )
        finally:
            logs = stop(survivor)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2, logs[-3000:]
    # At least once, at most one duplicate, recognisable by its event id.
    assert len(server.requests) == 2
    assert len(set(server.event_ids())) == 1
    assert [r["headers"]["Mqaflow-Delivery-Attempt"] for r in server.requests] == ["1", "2"]
    assert list(DeliveryAttempt.objects.values_list("outcome", flat=True)) == ["delivered"]


def test_lost_messages_are_delivered_once_by_two_workers_and_two_beats(broker, tmp_path):
    people = org_chart()
    with WebhookServer([200]) as server:
        WebhookEndpoint.objects.create(name="CRM", url=server.url, event_types=["play.created"])
        qualified_plays(people["adr"], 30, timezone.now())
        assert WebhookDelivery.objects.filter(status="pending").count() == 30
        broker.flushdb()  # every published message is lost: only the sweep can deliver
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
        PeriodicTask.objects.filter(task="integrations.tasks.webhooks_sweep_task").update(
            interval=every_second
        )
        PeriodicTask.objects.exclude(task="integrations.tasks.webhooks_sweep_task").update(
            enabled=False
        )
        env = process_env()
        procs = [
            worker(env, "w1"),
            worker(env, "w2"),
            beat(env, "b1", tmp_path),
            beat(env, "b2", tmp_path),
        ]
        try:
            wait_for(lambda: len(server.requests) >= 30, timeout=120)
            # more sweeps, at least two started after the last post: nothing may go out again
            settled = runs_after(procs, "integrations.tasks.webhooks_sweep_task")
        finally:
            logs = stop(*procs)
    assert settled, logs[-3000:]
    ids = server.event_ids()
    assert len(ids) == 30, logs[-3000:]
    assert len(set(ids)) == 30
    assert WebhookDelivery.objects.filter(status="delivered").count() == 30
    assert logs.count("webhooks_sweep_task") > 2


def test_two_workers_and_two_beats_post_each_chat_notice_once(broker, tmp_path):
    from plays.models import ChatNotice, NotificationPreference

    people = org_chart()
    with WebhookServer([200]) as slack:
        NotificationPreference.objects.create(owner=people["mgr"], slack_webhook_url=slack.url)
        plays = qualified_plays(people["adr"], 12, timezone.now() - timedelta(hours=25))
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
        wanted = ["plays.tasks.escalations_sweep_task", "plays.tasks.chat_notices_sweep_task"]
        PeriodicTask.objects.filter(task__in=wanted).update(interval=every_second)
        PeriodicTask.objects.exclude(task__in=wanted).update(enabled=False)
        env = process_env()
        procs = [
            worker(env, "w1"),
            worker(env, "w2"),
            beat(env, "b1", tmp_path),
            beat(env, "b2", tmp_path),
        ]
        try:
            wait_for(
                lambda: ChatNotice.objects.filter(status="sent").count() >= len(plays),
                timeout=120,
            )
            # more sweeps from both beats, two started after the last post: nothing new
            settled = runs_after(procs, "plays.tasks.chat_notices_sweep_task")
        finally:
            logs = stop(*procs)
    assert settled, logs[-3000:]
    posted = [
        block["elements"][0]["url"]
        for request in slack.requests
        for block in json.loads(request["body"])["blocks"]
        if block["type"] == "actions"
    ]
    assert sorted(posted) == sorted(f"{p.link}" for p in plays), logs[-3000:]
    assert ChatNotice.objects.count() == len(plays)
    assert len(slack.requests) <= len(plays)  # digests: one message may list several plays
