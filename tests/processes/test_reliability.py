"""Fault scenarios (docs/reliability.md): real PostgreSQL connections, a real Redis and a
real SMTP server that fails on purpose. Run alone with `pytest -m integration`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from config.celery import app
from plays import escalation
from plays.escalation import escalations_sweep
from plays.models import Notice
from plays.services import play_start
from tests.factories import org_chart, qualified_plays
from tests.support.reliability_support import FlakySMTPHandler, HangingServer, start_smtp, use_smtp

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sweep(at):
    """A sweep told the time, not travelled to it: the mail server's thread runs meanwhile
    (time-machine's clock is process-wide). Claims are stamped on the real clock."""
    return escalations_sweep(now=at)


def claimed_ago(notice, minutes):
    """Make `notice`'s claim look `minutes` old: claims and their staleness are on the real
    clock, which a test does not wait for."""
    Notice.objects.filter(pk=notice.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=minutes)
    )


@pytest.fixture
def smtp(settings):
    handler = FlakySMTPHandler()
    controller = start_smtp(handler)
    use_smtp(settings, controller.port)
    yield handler
    controller.stop()


@pytest.fixture
def publish_for_real():
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


# 5 and 10 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_smtp_4xx_is_retried_with_backoff_and_sent_once_when_the_server_recovers(smtp):
    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, T0)
    smtp.fail_code = 451
    sweep(T0 + timedelta(minutes=1))
    notice = play.notices.get(step=0)
    assert notice.status == "pending" and notice.attempts == 1
    assert "451" in notice.last_error
    assert notice.next_attempt_at == T0 + timedelta(minutes=2)
    sweep(T0 + timedelta(minutes=2))
    notice.refresh_from_db()
    assert notice.attempts == 2 and notice.next_attempt_at == T0 + timedelta(minutes=4)
    smtp.fail_code = None
    sweep(T0 + timedelta(minutes=3))  # still backing off
    assert smtp.messages == []
    sweep(T0 + timedelta(minutes=4))
    sweep(T0 + timedelta(minutes=5))
    notice.refresh_from_db()
    assert notice.status == "sent"
    assert smtp.notice_headers() == [f"{play.pk}:0"]


@pytest.mark.django_db
def test_smtp_5xx_is_marked_failed_and_shown_in_admin(smtp, client):
    from tests.factories import UserFactory

    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, T0)
    smtp.fail_code = 550
    sweep(T0 + timedelta(minutes=1))
    sweep(T0 + timedelta(hours=2))
    notice = play.notices.get(step=0)
    assert notice.status == "failed" and notice.attempts == 1 and "550" in notice.last_error
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/plays/notice/?status__exact=failed").content.decode()
    assert "550" in page


@pytest.mark.django_db
def test_a_hanging_mail_server_hits_the_timeout_and_is_retried(settings):
    server = HangingServer()
    use_smtp(settings, server.port, timeout=1)
    try:
        people = org_chart()
        [play] = qualified_plays(people["adr"], 1, T0)
        started = time.monotonic()
        sweep(T0 + timedelta(minutes=1))
        assert time.monotonic() - started < 10
        notice = play.notices.get(step=0)
        assert notice.status == "pending" and "timed out" in notice.last_error.lower()
        sweep(notice.next_attempt_at)  # the retry, after the backoff
        notice.refresh_from_db()
        assert notice.attempts == 2 and notice.status == "pending"
    finally:
        server.close()


@pytest.mark.django_db
def test_crash_after_smtp_accepted_resends_at_most_once(smtp, monkeypatch):
    """Policy: at-least-once with at most one duplicate, never a third send."""
    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, T0)
    real_mark_sent = escalation._mark_sent

    def crash_on_mark_sent(rows, now):
        raise SystemExit("worker killed right after the SMTP server accepted")

    monkeypatch.setattr(escalation, "_mark_sent", crash_on_mark_sent)
    with pytest.raises(SystemExit):
        sweep(T0 + timedelta(minutes=1))
    monkeypatch.setattr(escalation, "_mark_sent", real_mark_sent)
    assert len(smtp.messages) == 1
    notice = play.notices.get(step=0)
    assert notice.status == "sending"
    claimed_ago(notice, 4)
    sweep(T0 + timedelta(minutes=5))  # claim not stale yet: nothing
    assert len(smtp.messages) == 1
    claimed_ago(notice, 11)
    sweep(T0 + timedelta(minutes=12))  # stale: resent once
    notice.refresh_from_db()
    assert notice.status == "sent" and len(smtp.messages) == 2
    sweep(T0 + timedelta(hours=5))
    assert smtp.notice_headers().count(f"{play.pk}:0") == 2


# 6 ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_beat_down_for_three_days_sends_every_due_step_once_in_ladder_order(smtp):
    people = org_chart()
    plays = qualified_plays(people["adr"], 3, T0)
    sweep(T0 + timedelta(days=3, minutes=5))
    sweep(T0 + timedelta(days=3, minutes=6))
    for play in plays:
        headers = [h for h in smtp.notice_headers() if h.startswith(f"{play.pk}:")]
        assert headers == [f"{play.pk}:{step}" for step in range(5)]


# 7 ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dst_change_and_time_zone_change_keep_due_times_right(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    start = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Berlin moves its clocks that night
    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, start)
    assert play.due_at == start + timedelta(hours=24)
    settings.TIME_ZONE = "America/New_York"  # changed between qualification and escalation
    play.refresh_from_db()
    assert play.due_at == start + timedelta(hours=24)
    sweep(start + timedelta(hours=23, minutes=59))
    assert play.notices.filter(step=2).count() == 0
    sweep(start + timedelta(hours=24))
    manager = play.notices.get(step=2)
    assert manager.due_at == start + timedelta(hours=24)
    assert manager.recipient == people["mgr"]


# 8 ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_connection_dropped_during_a_sweep(monkeypatch):
    people = org_chart()
    plays = qualified_plays(people["adr"], 4, T0)
    real = escalation.escalation_recipient
    calls = {"n": 0}

    def drop_connection_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(*args, **kwargs)

    monkeypatch.setattr(escalation, "escalation_recipient", drop_connection_once)
    with pytest.raises(OperationalError):
        sweep(T0 + timedelta(hours=25))
    connection.close()
    monkeypatch.setattr(escalation, "escalation_recipient", real)
    sweep(T0 + timedelta(hours=25, minutes=1))
    for play in plays:
        steps = list(play.notices.order_by("step").values_list("step", "status"))
        assert steps == [(0, "sent"), (1, "sent"), (2, "sent")]


# 9 ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_accept_racing_the_sweep_never_emails_after_the_start_committed(settings):
    from tests.support.mail_backends import WaitedOnBackend

    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, T0)  # its new-play notice goes out at once
    assert Notice.objects.get(play=play, step=0).status == "sent"
    # Each send now lasts until someone waits for the sweep's locks.
    settings.EMAIL_BACKEND = "tests.support.mail_backends.WaitedOnBackend"
    WaitedOnBackend.reset()
    order = []

    def run_sweep():
        try:
            escalations_sweep(now=T0 + timedelta(hours=25))
        finally:
            connection.close()

    # Both threads say their time (time-machine's clock is process-wide: no thread runs
    # under a travel).
    thread = threading.Thread(target=run_sweep)
    thread.start()
    assert WaitedOnBackend.sending.wait(10)  # the sweep is inside a send
    # waits for the play's row lock, which the send holds until it sees the start waiting
    play_start(play=play, by=people["adr"].user, now=T0 + timedelta(hours=25, seconds=1))
    order.append(("started", time.monotonic()))
    thread.join(30)
    assert not thread.is_alive()
    started_at = order[0][1]
    # The reminder was being handed over when the ADR clicked Start: the start waited for
    # it. The manager's step, due in the same sweep, found the play started and was skipped.
    assert [step for step, _ in WaitedOnBackend.handed_over] == [f"{play.pk}:1"]
    assert WaitedOnBackend.waited_on == [True]
    assert all(t <= started_at for _, t in WaitedOnBackend.handed_over)
    manager = Notice.objects.get(play=play, step=2)
    assert manager.status == "skipped" and "started first" in manager.note
    play.refresh_from_db()
    assert play.status == "started"
