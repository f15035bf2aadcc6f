"""The weekly tuning digest: to the staff and managers who opted in, once per week each."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from mqaflow.models import MQATransition
from plays.models import DismissReason, Play
from tests.factories import AccountFactory, OpportunityFactory, UserFactory, qualified_play
from tuning.digest import digest_build, segment_capacity
from tuning.digest_tasks import digest_send
from tuning.models import DigestDelivery, DigestSubscription

pytestmark = pytest.mark.django_db

# A Monday, 08:00 in TIME_ZONE: when beat runs the digest.
MONDAY = datetime(2026, 3, 2, 8, 0)


def monday(weeks: int = 0, hours: float = 0) -> datetime:
    at = MONDAY + timedelta(weeks=weeks, hours=hours)
    return timezone.make_aware(at, timezone.get_default_timezone())


def mqas(account, at, n: int, funnel: int, size_band: str) -> None:
    MQATransition.objects.bulk_create(
        MQATransition(
            account=account,
            from_status="not_qualified",
            to_status="mqa",
            at=at,
            funnel=funnel,
            size_band=size_band,
        )
        for _ in range(n)
    )


@pytest.fixture
def world(org):
    """Last week: funnel 1 large produced 14 MQAs for a capacity of 10 (over), funnel 3
    small 6 for 10 (within); one play dismissed as a wrong fit. 90 days before last week,
    two MQAs, one converted."""
    last_week = monday(-1, hours=30)  # Tuesday of last week
    with time_machine.travel(last_week, tick=False):
        play = qualified_play(org["adr"], at=last_week)  # a funnel 1, large account of the ADR
    Play.objects.filter(pk=play.pk).update(
        status="dismissed",
        dismissed_at=last_week + timedelta(hours=1),
        dismissed_reason=DismissReason.objects.get(slug="wrong-fit"),
    )
    large = AccountFactory(owner=org["adr"], funnel=1, employees=500)
    small = AccountFactory(owner=org["peer"], funnel=3, employees=50)
    mqas(large, last_week, 13, 1, "large")
    mqas(small, last_week, 6, 3, "small")
    cohort = last_week - timedelta(days=90)
    mqas(large, cohort, 1, 1, "large")
    mqas(small, cohort, 1, 3, "small")
    OpportunityFactory(account=small, created_at=cohort + timedelta(days=3))
    staff = UserFactory(is_staff=True, email="ops@s.example")
    for user in (org["mgr"].user, staff, org["adr"].user):  # the ADR is no manager
        DigestSubscription.objects.create(user=user)
    UserFactory(is_staff=True, email="quiet@s.example")  # not opted in
    return {"org": org, "staff": staff}


def test_the_digest_goes_once_a_week_to_each_opted_in_staff_member_and_manager(world):
    with time_machine.travel(monday(), tick=False):
        assert digest_send() == 2
    with time_machine.travel(monday(hours=1.5), tick=False):  # a second beat, same week
        assert digest_send() == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["mgr@s.example", "ops@s.example"]
    assert DigestDelivery.objects.filter(sent_at__isnull=False).count() == 2
    with time_machine.travel(monday(weeks=1), tick=False):
        assert digest_send() == 2
    assert len(mail.outbox) == 4


def test_the_digest_flags_the_segment_over_capacity_and_links_the_scorecard(world):
    with time_machine.travel(monday(), tick=False):
        digest_send()
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    assert message.subject == "Tuning digest, week of 23 Feb: 20 MQAs, 1 segment flagged"
    assert "Funnel 1, large: 14 MQAs for a capacity of 10.0 — OVER capacity" in message.body
    assert "Funnel 3, small: 6 / 10.0\n" in message.body  # within its capacity: not flagged
    assert "over capacity" in html
    assert "MQAs now 90 days old (25 Nov – 1 Dec 2025): 1 of 2 converted" in message.body
    assert "Top dismissal reasons last week:\n- Wrong fit: 1\n" in message.body
    assert (
        "http://testserver/tuning/" in message.body and 'href="http://testserver/tuning/"' in html
    )


def test_capacity_is_split_by_the_accounts_an_adr_owns(org):
    org["adr"].weekly_play_capacity = 8
    org["adr"].save()
    AccountFactory.create_batch(3, owner=org["adr"], funnel=1, employees=500)
    AccountFactory(owner=org["adr"], funnel=2, employees=50)
    assert segment_capacity() == {(1, "large"): 6, (2, "small"): 2}


def test_nobody_opted_in_gets_nothing_and_the_toggle_opts_in_and_out(org):
    with time_machine.travel(monday(), tick=False):
        assert digest_send() == 0
    assert mail.outbox == []
    client = Client()
    client.force_login(org["mgr"].user)
    assert client.post("/tuning/digest/", {"subscribe": "1"}).status_code == 302
    assert DigestSubscription.objects.filter(user=org["mgr"].user).exists()
    assert "Stop emailing me" in client.get("/tuning/").content.decode()
    client.post("/tuning/digest/", {"subscribe": "0"})
    assert not DigestSubscription.objects.exists()


def test_the_digest_covers_last_week(world):
    digest = digest_build(now=monday())
    assert (digest.week_start, digest.week_end) == (
        monday(-1).date(),
        monday(-1).date() + timedelta(days=6),
    )
    assert digest.mqas == 20 and [s.flag for s in digest.flagged] == ["over"]
    AccountFactory(owner=world["org"]["mgr"], funnel=2, employees=500)  # capacity, no MQAs
    flagged = digest_build(now=monday()).flagged
    assert [(s.funnel, s.size_band, s.mqas, s.flag) for s in flagged] == [
        (1, "large", 14, "over"),
        (2, "large", 0, "under"),
    ]


def test_capacity_follows_the_bandwidth_calendar(org):
    from decimal import Decimal

    from mqaflow.models import BandwidthPeriod

    AccountFactory(owner=org["adr"], funnel=1, employees=500)
    week = timezone.localdate(monday(-1))
    BandwidthPeriod.objects.create(  # the whole week at ×2: half the ADRs are in
        name="Offsite", starts_on=week, ends_on=week + timedelta(days=6), factor=Decimal(2)
    )
    assert segment_capacity() == {(1, "large"): 10}
    assert segment_capacity(week=week) == {(1, "large"): 5}


def test_one_failed_address_does_not_cost_the_others_their_digest(world, monkeypatch):
    from tuning import digest

    real = digest._message

    def flaky(user, built):
        if user.email == "mgr@s.example":
            raise ConnectionError("smtp down for this one")
        return real(user, built)

    monkeypatch.setattr(digest, "_message", flaky)
    with time_machine.travel(monday(), tick=False), pytest.raises(digest.DigestNotSent):
        digest.digests_send()
    assert [m.to[0] for m in mail.outbox] == ["ops@s.example"]
    monkeypatch.setattr(digest, "_message", real)
    with time_machine.travel(monday(hours=1), tick=False):  # the retry sends only what failed
        assert digest.digests_send() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["mgr@s.example", "ops@s.example"]


def test_a_claim_abandoned_unsent_is_taken_over_by_a_later_beat(world):
    staff = world["staff"]
    with time_machine.travel(monday(), tick=False):  # a worker claimed, then died
        DigestDelivery.objects.create(user=staff, week=monday().date(), claimed_at=monday())
        digest_send()
    assert "ops@s.example" not in [m.to[0] for m in mail.outbox]  # still being sent?
    with time_machine.travel(monday(hours=1), tick=False):
        digest_send()
    assert [m.to[0] for m in mail.outbox].count("ops@s.example") == 1
    assert DigestDelivery.objects.get(user=staff).sent_at is not None
