"""`escalate_plays --dry-run` says what the real sweep would do, line for line, and sends,
writes and keeps nothing."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from mqaflow.models import Account, MQAStatus
from mqaflow.qualification.engine import accounts_evaluate
from plays import escalation
from plays.models import Notice, NotificationPreference, Play, PlayStatus
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def qualify(account, at=T0) -> Play:
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, seniority="vp"),
        activity=activity("demo_request"),
        occurred_at=at - timedelta(hours=1),
    )
    accounts_evaluate(account_ids=[account.pk], now=at)
    return Play.objects.get(account=account)


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("escalate_plays", *args, stdout=out)
    return out.getvalue().splitlines()


def test_dry_run_reports_what_the_real_sweep_then_does(org):
    plain = qualify(AccountFactory(name="Plain Co", funnel=1, owner=org["adr"]))
    # Its grace period ended with the account out: the real sweep withdraws it first.
    gone = qualify(AccountFactory(name="Gone Co", funnel=1))
    Account.objects.filter(pk=gone.account_id).update(mqa_status=MQAStatus.NOT_QUALIFIED)
    Play.objects.filter(pk=gone.pk).update(withdraw_due_at=T0 + timedelta(hours=1))
    # The manager reads a daily digest: their escalation step waits for it.
    NotificationPreference.objects.create(owner=org["mgr"], delivery="daily", digest_hour=9)
    mail.outbox.clear()
    notices = Notice.objects.count()

    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        dry = run("--dry-run")
        assert mail.outbox == [] and Notice.objects.count() == notices
        assert Play.objects.get(pk=gone.pk).status == PlayStatus.PENDING
        real = run()

    assert Play.objects.get(pk=gone.pk).status == PlayStatus.WITHDRAWN
    steps = [line for line in real if line.startswith("play #")]
    assert steps, real
    as_dry = {": sent": ": would send", ": skipped": ": would skip", ": waits": ": would wait"}
    expected = []
    for line in steps:
        for real_words, dry_words in as_dry.items():
            line = line.replace(real_words, dry_words, 1)
        expected.append(line)
    assert [line for line in dry if line.startswith("play #")] == expected
    assert not any(f"play #{gone.pk} " in line for line in dry)
    assert any(f"play #{plain.pk} " in line and "would wait until" in line for line in dry)
    assert "1 play(s) would be withdrawn first" in "\n".join(dry)
    assert "1 play(s) withdrawn first" in "\n".join(real)


def test_dry_run_covers_every_due_play_not_only_the_first_batch(org, monkeypatch):
    monkeypatch.setattr(escalation, "BATCH", 2)
    plays = [qualify(AccountFactory(name=f"Co {n}", funnel=1, owner=org["adr"])) for n in range(5)]
    with time_machine.travel(T0 + timedelta(hours=19), tick=False):  # reminders only
        dry = run("--dry-run")
    for play in plays:
        assert any(line.startswith(f"play #{play.pk} step 1 (reminder)") for line in dry), dry
    assert Notice.objects.filter(kind="reminder").count() == 0
