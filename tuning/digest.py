"""The weekly tuning digest: what the meeting needs before it starts, by email on Monday
morning (beat, config/schedules.py) to the staff and managers who asked for it.

- Last week's MQAs by segment (funnel × size band) against the ADR capacity of the segment.
  An ADR's weekly play capacity is split over the segments of the accounts they own, in
  proportion to how many they own in each (an ADR owning 30 funnel-1 and 10 funnel-3
  accounts with a capacity of 10 gives 7.5 to funnel 1 and 2.5 to funnel 3), so the
  capacities of the segments add up to the team's and no ADR is counted twice. A segment
  producing over 120% or under 50% of its capacity is flagged.
- Conversion of the MQAs that are now N days old (N: the live set's `conversion_days`):
  the qualifications of the week N days before last week, and the share converted.
- Last week's top dismissal reasons, and a link to the scorecard.

Sent once per week per recipient: a `DigestDelivery(user, week)` row is inserted (the
unique pair is the claim) and committed before the email goes out; a second beat of the
same week finds it and skips. A failed send removes its claim, so a retry sends it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mqaflow.models import Account, RuleSet, SizeBand
from mqaflow.qualification.outcomes import ConversionSummary, conversion_summary
from mqaflow.qualification.reports import report_bounds
from plays.models import Play, PlayStatus

from .capacity import capacity_shares
from .models import DigestDelivery, DigestSubscription
from .scorecard import live_mqas

logger = logging.getLogger(__name__)

# A segment producing more than OVER or less than UNDER of its capacity is flagged.
OVER = Decimal("1.2")
UNDER = Decimal("0.5")
TOP_REASONS = 5


@dataclass
class Segment:
    funnel: int
    size_band: str
    mqas: int = 0
    capacity: Decimal = Decimal(0)

    @property
    def load(self) -> float | None:
        """MQAs / capacity; None without capacity."""
        return float(self.mqas / self.capacity) if self.capacity else None

    @property
    def flag(self) -> str:
        if not self.capacity:
            return "over" if self.mqas else ""
        if self.mqas > self.capacity * OVER:
            return "over"
        if self.mqas < self.capacity * UNDER:
            return "under"
        return ""


@dataclass
class Digest:
    week_start: date  # last week's Monday
    week_end: date  # last week's Sunday
    segments: list[Segment]
    conversion_days: int
    cohort_start: date
    cohort_end: date
    conversion: ConversionSummary
    dismissals: list[tuple[str, int]]
    scorecard_url: str
    flagged: list[Segment] = field(default_factory=list)

    @property
    def mqas(self) -> int:
        return sum(s.mqas for s in self.segments)

    @property
    def capacity(self) -> Decimal:
        return sum((s.capacity for s in self.segments), Decimal(0))


def week_of(day: date) -> date:
    """The Monday of the week `day` is in."""
    return day - timedelta(days=day.weekday())


def _band_of_employees() -> Case:
    """An account's live size band slug, from its employees (as the engine decides it)."""
    bands = SizeBand.objects.filter(rule_set=RuleSet.objects.live()).order_by("min_employees")
    whens = []
    for band in bands:
        test = Q(employees__gte=band.min_employees)
        if band.max_employees is not None:
            test &= Q(employees__lt=band.max_employees)
        whens.append(When(test, then=Value(band.slug)))
    return Case(*whens, default=Value(""))


def segment_capacity(*, week: date | None = None) -> dict[tuple[int, str], Decimal]:
    """{(funnel, size band): capacity}: each active owner's weekly play capacity split over
    the segments of their accounts in proportion to how many they own there; for `week`
    (its Monday), scaled by the live set's bandwidth calendar as the backtest scales it."""
    share = Decimal(1)
    if week is not None:
        (left,) = capacity_shares(rule_set=RuleSet.objects.live(), weeks=[week])
        share = Decimal(str(left))
    rows = (
        Account.objects.filter(owner__is_active=True)
        .annotate(band=_band_of_employees())
        .values("owner_id", "owner__weekly_play_capacity", "funnel", "band")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_owner: dict[int, int] = defaultdict(int)
    found = list(rows)  # one row per owner and segment: a few hundred at most
    for r in found:
        per_owner[r["owner_id"]] += r["n"]
    capacity: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for r in found:
        owned = Decimal(r["n"]) / per_owner[r["owner_id"]]
        capacity[(r["funnel"], r["band"])] += Decimal(r["owner__weekly_play_capacity"]) * owned
    return {k: (v * share).quantize(Decimal("0.1")) for k, v in capacity.items()}


def digest_build(*, now: datetime) -> Digest:
    """The digest of the week before the one `now` is in (weeks start on Monday, in
    TIME_ZONE)."""
    this_week = week_of(timezone.localdate(now))
    first, last = this_week - timedelta(days=7), this_week - timedelta(days=1)
    start, end = report_bounds(first, last)
    counts = (
        live_mqas(start=start, end=end)
        .values("funnel", "size_band")
        .annotate(n=Count("pk"))
        .order_by()
    )
    segments: dict[tuple[int, str], Segment] = {}
    for r in counts:
        segments[(r["funnel"], r["size_band"])] = Segment(r["funnel"], r["size_band"], r["n"])
    for key, capacity in segment_capacity(week=first).items():
        segments.setdefault(key, Segment(*key)).capacity = capacity
    ordered = [segments[k] for k in sorted(segments)]
    live = RuleSet.objects.live()
    days = live.conversion_days
    cohort_first, cohort_last = first - timedelta(days=days), last - timedelta(days=days)
    cohort_from, cohort_to = report_bounds(cohort_first, cohort_last)
    cohort = live_mqas(start=cohort_from, end=cohort_to)
    dismissals = (
        Play.objects.filter(
            status=PlayStatus.DISMISSED, dismissed_at__gte=start, dismissed_at__lt=end
        )
        .values("dismissed_reason__label")
        .annotate(n=Count("pk"))
        .order_by("-n", "dismissed_reason__label")[:TOP_REASONS]
    )
    return Digest(
        week_start=first,
        week_end=last,
        segments=ordered,
        conversion_days=days,
        cohort_start=cohort_first,
        cohort_end=cohort_last,
        conversion=conversion_summary(transitions=cohort, days=days),
        dismissals=[(r["dismissed_reason__label"] or "(no reason)", r["n"]) for r in dismissals],
        scorecard_url=settings.SITE_URL + reverse("tuning:scorecard"),
        flagged=[s for s in ordered if s.flag],
    )


# -- subscriptions ----------------------------------------------------------------------


def digest_subscribed(*, user: Any) -> bool:
    return DigestSubscription.objects.filter(user_id=user.pk).exists()


def digest_subscribe(*, user: Any, on: bool, now: datetime | None = None) -> bool:
    """Turn the user's weekly digest on or off; returns whether it is on."""
    if on:
        DigestSubscription.objects.get_or_create(
            user_id=user.pk, defaults={"created_at": now or timezone.now()}
        )
    else:
        DigestSubscription.objects.filter(user_id=user.pk).delete()
    return on


def digest_recipients() -> QuerySet:
    """Subscribed users who may still have it: active, and staff or a manager."""
    return (
        get_user_model()
        .objects.filter(is_active=True, tuning_digest__isnull=False)
        .filter(Q(is_staff=True) | Q(owner__reports__isnull=False))
        .select_related("owner")
        .distinct()
        .order_by("pk")
    )


# -- sending ----------------------------------------------------------------------------


def _address(user: Any) -> str:
    owner = getattr(user, "owner", None)
    return user.email or (owner.email if owner is not None else "")


def _message(user: Any, digest: Digest) -> EmailMultiAlternatives:
    owner = getattr(user, "owner", None)
    ctx = {
        "digest": digest,
        "recipient_name": owner.name if owner is not None else user.get_username(),
    }
    subject = " ".join(render_to_string("emails/tuning_digest-subject.txt", ctx).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/tuning_digest-body.txt", ctx),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[_address(user)],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    message.attach_alternative(render_to_string("emails/tuning_digest-body.html", ctx), "text/html")
    return message


# A claim left unsent this long was abandoned (its worker died between claim and send).
CLAIM_ABANDONED_AFTER = timedelta(minutes=15)


def _claim(user: Any, week: date, now: datetime) -> DigestDelivery | None:
    """Insert this week's delivery for the user, or take over one abandoned unsent; None
    when it was sent or another beat is sending it."""
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(user=user, week=week, claimed_at=now)
    except IntegrityError:
        abandoned = DigestDelivery.objects.filter(
            user=user, week=week, sent_at__isnull=True, claimed_at__lt=now - CLAIM_ABANDONED_AFTER
        )
        if abandoned.update(claimed_at=now) != 1:  # one UPDATE: one taker
            return None
        return DigestDelivery.objects.get(user=user, week=week)


class DigestNotSent(RuntimeError):
    """Some digests of the week failed to send (the others were sent)."""


def digests_send(*, now: datetime | None = None) -> int:
    """Send this week's digest to every recipient who has not had it; returns how many
    were sent. Built once, only when somebody is owed one."""
    now = now or timezone.now()
    week = week_of(timezone.localdate(now))
    settled = Q(sent_at__isnull=False) | Q(claimed_at__gte=now - CLAIM_ABANDONED_AFTER)
    done = DigestDelivery.objects.filter(settled, week=week).values("user_id")
    owed = [u for u in digest_recipients().exclude(pk__in=done) if _address(u)]
    if not owed:
        return 0
    digest = digest_build(now=now)
    sent = failed = 0
    for user in owed:  # the opted-in staff and managers: a handful
        claim = _claim(user, week, now)
        if claim is None:
            continue
        try:
            _message(user, digest).send(fail_silently=False)
        except Exception:
            # Not sent: free the claim so the next beat or a retry sends it, and go on with
            # the others (one bad address must not cost everyone their digest).
            claim.delete()
            failed += 1
            logger.exception("tuning digest to user %s failed", user.pk)
            continue
        DigestDelivery.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        sent += 1
    logger.info("sent %d tuning digest(s) for the week of %s", sent, week)
    if failed:
        raise DigestNotSent(f"{failed} tuning digest(s) could not be sent; retrying")
    return sent
