"""Two sweeps at once over the same due plays, on real PostgreSQL connections."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection

from plays.escalation import escalations_sweep
from plays.models import Notice
from plays.notifications import NOTICE_HEADER
from tests.factories import org_chart, qualified_plays

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_email_once():
    people = org_chart()
    qualified_plays(people["adr"], 40, T0)
    mail.outbox.clear()
    barrier = threading.Barrier(2, timeout=20)
    errors = []

    def sweep():
        try:
            barrier.wait()
            escalations_sweep(now=T0 + timedelta(hours=25))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    # Each sweep is told the time (time-machine's clock is process-wide: no thread runs
    # under a travel); the claims are stamped on the real clock, as in production.
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    # The new-play notices went out at creation (eager on_commit); the sweeps send each
    # play's reminder and manager escalation exactly once, grouped per recipient: the ADR
    # and the manager each get digests, never a second copy of any (play, step).
    sent = [key for m in mail.outbox for key in m.extra_headers[NOTICE_HEADER].split(", ")]
    assert len(sent) == 40 * 2
    assert len(set(sent)) == len(sent)
    assert {m.to[0] for m in mail.outbox} == {people["adr"].email, people["mgr"].email}
    assert len(mail.outbox) <= 4  # one digest per recipient per sweep, two sweeps at most
    assert Notice.objects.filter(status="sent").count() == 120
