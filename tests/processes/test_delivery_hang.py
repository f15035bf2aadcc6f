"""A mail server that hangs for half an hour strands nothing (issue 11, part 3).

80 notices are due to four ADRs while the SMTP server accepts connections and never
answers. Each sweep spends one EMAIL_TIMEOUT per recipient it tries, stops claiming when
its budget is spent, and leaves every notice it did not try in `pending` (never claimed,
so never stale). After the server recovers, every notice is delivered exactly once and
none ends `unknown`.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded

from plays import escalation
from plays.escalation import escalations_sweep
from plays.models import Notice
from tests.factories import OwnerFactory, org_chart, qualified_plays
from tests.support.reliability_support import FlakySMTPHandler, HangingServer, start_smtp, use_smtp

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sweep(at, budget):
    with time_machine.travel(at, tick=False):
        return escalations_sweep(budget=budget)


def test_thirty_minutes_of_smtp_hang_then_every_notice_once_and_none_unknown(settings):
    manager = OwnerFactory(name="Mia Manager")
    adrs = [OwnerFactory(name=f"ADR {n}", manager=manager) for n in range(4)]
    for adr in adrs:
        qualified_plays(adr, 20, T0)  # 80 new-play notices, none delivered yet
    assert Notice.objects.filter(status="pending").count() == 80

    hanging = HangingServer()
    use_smtp(settings, hanging.port, timeout=1)
    settings.EMAIL_TIMEOUT = 0.4
    try:
        for minute in range(1, 31):
            result = sweep(T0 + timedelta(minutes=minute), budget=0.5)
            # whatever a sweep did not try stays pending; nothing is left claimed
            assert not Notice.objects.filter(status="sending").exists()
            assert result.sent == 0
        assert Notice.objects.filter(status="pending").count() == 80
        tried = Notice.objects.filter(attempts__gt=0).count()
        assert 0 < tried <= 80
    finally:
        hanging.close()

    handler = FlakySMTPHandler()
    controller = start_smtp(handler)
    use_smtp(settings, controller.port, timeout=5)
    try:
        for minutes in range(31, 31 + 3 * 60, 10):
            sweep(T0 + timedelta(minutes=minutes), budget=30)
    finally:
        controller.stop()
    statuses = set(Notice.objects.values_list("status", flat=True))
    assert statuses == {"sent"}
    keys = handler.notice_headers()
    assert len(keys) == 80 and len(set(keys)) == 80  # every notice exactly once
    assert len(handler.messages) == 4  # one digest per ADR


def test_soft_time_limit_mid_send_puts_the_claims_back_to_pending(monkeypatch):
    adr = org_chart("mgr", "adr")["adr"]
    qualified_plays(adr, 3, T0)

    def interrupted(*, notices, now):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(escalation, "notices_send", interrupted)
    with pytest.raises(SoftTimeLimitExceeded):
        sweep(T0 + timedelta(minutes=1), budget=30)
    rows = Notice.objects.all()
    assert {r.status for r in rows} == {"pending"}
    assert all("time limit" in r.last_error for r in rows)
