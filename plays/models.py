"""Plays, the SLA policies that time them, and the notices they cause.

A play freezes its deadlines when it is created (`due_at`, `remind_at`, `plan`), so editing
a policy never moves the clock of a play already waiting. `next_action_at` is the time of
the play's next unplanned step; the sweep finds due plays through a partial index on it.
Every notice (new play, reminder, escalation step, mention) is a `Notice` row, unique per
(play, kind, step): the row is the guard that an email goes out once, and the audit of who
was told, when, and who was skipped and why. What happened to the play itself (created,
started, reassigned…) is its log, one `PlayLogEntry` per change.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from mqaflow.models import Funnel

# The first-touch email goes to the prospect: only prospect-facing values may be placed in
# it. Why the account qualified (the internal scoring sentence, `{engagement}` and
# `{explanation}` in templates of earlier releases) is shown beside the email, never in it:
# they are unknown placeholders here, so a template that still holds them cannot be saved.
EMAIL_PLACEHOLDERS = {
    "account": "the account's name",
    "domain": "the account's domain",
    "contact_name": "first name of the most senior engaged contact (or 'there')",
    "contacts": "names of up to five engaged contacts",
    "assignee": "the ADR's name",
}
_PLACEHOLDER_HELP = (
    "Placeholders: "
    + "; ".join(f"{{{name}}} = {meaning}" for name, meaning in EMAIL_PLACEHOLDERS.items())
    + ". Not {engagement} or {explanation}: why the account qualified is shown beside the "
    "email, never sent to the prospect."
)


def placeholder_errors(text: str) -> list[str]:
    """Unknown or malformed placeholders of a template text, as readable messages."""
    from string import Formatter

    try:
        names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return [f"Malformed placeholder ({exc}); write literal braces as {{{{ and }}}}."]
    unknown = sorted(n for n in names if n not in EMAIL_PLACEHOLDERS)
    if not unknown:
        return []
    allowed = ", ".join(f"{{{n}}}" for n in EMAIL_PLACEHOLDERS)
    return [f"Unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; use {allowed}."]


class PlayTemplate(models.Model):
    """What an ADR should do with an MQA of a funnel, and a first-touch email to adapt."""

    name = models.CharField(max_length=200)
    funnels = models.JSONField(default=list, blank=True, help_text="Empty: all funnels.")
    instructions = models.TextField()
    email_subject = models.CharField(max_length=200, help_text=_PLACEHOLDER_HELP)
    email_body = models.TextField(help_text=_PLACEHOLDER_HELP)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {
            name: placeholder_errors(getattr(self, name))
            for name in ("email_subject", "email_body")
        }
        errors = {name: messages for name, messages in errors.items() if messages}
        if errors:
            raise ValidationError(errors)


class SLAPolicy(models.Model):
    funnel = models.PositiveSmallIntegerField(choices=Funnel.choices, unique=True)
    response_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Hours the ADR has to start the play."
    )
    reminder_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Remind the assignee when this share of the response time has passed.",
    )
    fallback_owner = models.ForeignKey(
        "mqaflow.Owner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Gets the plays of accounts with no owner or an inactive owner.",
    )
    business_hours = models.BooleanField(
        default=False, help_text="Count only working hours (off: wall-clock hours)."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    work_days = models.CharField(
        max_length=20, default="0,1,2,3,4", help_text="Weekdays, 0 = Monday."
    )
    work_start = models.TimeField(default=time(9))
    work_end = models.TimeField(default=time(17))
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code for public holidays, e.g. DE."
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    withdraw_when_disqualified = models.BooleanField(
        "withdraw when the account stops qualifying",
        default=True,
        help_text="A pending play whose account is no longer an MQA (aged out, excluded, "
        "rule changed) is withdrawn and nobody is told about it again.",
    )
    withdraw_grace_hours = models.PositiveIntegerField(
        "grace period (hours)",
        default=0,
        help_text="Wait this long before withdrawing, for accounts that flap around a "
        "threshold; if the account qualifies again meanwhile, the play stays.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Ladder step changes are written into the policy's history rows: long reasons.
    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["funnel"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"{Funnel(self.funnel).label}: start within {self.response_hours} h"

    def save(self, *args, **kwargs) -> None:
        """Every edit bumps the version that plays record when their deadlines are frozen."""
        if self.pk:
            stored = SLAPolicy.objects.filter(pk=self.pk).values_list("version", flat=True)
            self.version = (stored.first() or 0) + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from zoneinfo import available_timezones

        if self.time_zone not in available_timezones():
            raise ValidationError({"time_zone": f"Unknown time zone {self.time_zone!r}."})
        try:
            days = self.weekdays
        except ValueError:
            days = None
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValidationError({"work_days": "Comma-separated weekdays 0 (Mon) to 6 (Sun)."})
        if self.work_end <= self.work_start:
            raise ValidationError({"work_end": "Must be after the start of the working day."})
        if self.holiday_country:
            import holidays

            try:
                holidays.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision or None
                )
            except NotImplementedError as exc:
                raise ValidationError({"holiday_country": str(exc)}) from exc

    @property
    def weekdays(self) -> set[int]:
        return {int(d) for d in self.work_days.split(",") if d.strip()}


class EscalationStep(models.Model):
    """One rung of a policy's ladder: after N hours, tell someone N levels up (or the top)."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="steps")
    after_hours = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    levels_up = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    to_top = models.BooleanField(default=False, help_text="The top of the chain (the CEO).")
    pre_breach_warning = models.BooleanField(
        default=False,
        help_text="Allowed before the SLA deadline: a warning to a manager before the breach.",
    )
    urgent = models.BooleanField(
        default=False,
        help_text="Sent at once even in the recipient's quiet hours or digest (meant for the "
        "last step).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "after_hours"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "after_hours"], name="step_hours_unique"),
            models.CheckConstraint(
                condition=models.Q(to_top=True) | models.Q(levels_up__isnull=False),
                name="step_has_a_target",
            ),
        ]

    def __str__(self) -> str:
        return f"after {self.after_hours} h → {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.to_top:
            return "the top of the chain"
        if self.levels_up == 1:
            return "the assignee's manager"
        return f"{self.levels_up} levels up"

    def clean(self) -> None:
        if not self.to_top and not self.levels_up:
            raise ValidationError({"levels_up": "Set the levels up, or tick 'to top'."})


class DismissReason(models.Model):
    slug = models.SlugField(unique=True)
    label = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    adr_may_use = models.BooleanField(
        "ADRs may use it",
        default=False,
        help_text="The assignee may dismiss their own play with this reason; otherwise only "
        "managers and admins can.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class OwnerAbsence(models.Model):
    """An owner away (holiday, leave): new plays and escalations go to the delegate."""

    owner = models.ForeignKey("mqaflow.Owner", on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    delegate = models.ForeignKey(
        "mqaflow.Owner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    # When the sweep moved the owner's pending plays to the delegate (once per absence).
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["owner", "starts_at", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.owner.name} away {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "Must be after the start."})
        if self.delegate_id and self.delegate_id == self.owner_id:
            raise ValidationError({"delegate": "An owner cannot delegate to themselves."})


class PlayStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    DISMISSED = "dismissed", "Dismissed"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = [PlayStatus.PENDING, PlayStatus.STARTED]


class PlayOutcome(models.TextChoices):
    """What came of a completed play: the figure the reports and the scorecard count."""

    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    OPPORTUNITY_CREATED = "opportunity_created", "Opportunity created"
    NO_RESPONSE = "no_response", "No response after cadence"
    NOT_A_FIT = "not_a_fit", "Not a fit"


class Play(models.Model):
    account = models.ForeignKey("mqaflow.Account", on_delete=models.CASCADE, related_name="plays")
    transition = models.OneToOneField(
        "mqaflow.MQATransition", on_delete=models.PROTECT, related_name="play"
    )
    template = models.ForeignKey(
        PlayTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="plays"
    )
    assignee = models.ForeignKey("mqaflow.Owner", on_delete=models.PROTECT, related_name="plays")
    status = models.CharField(max_length=20, choices=PlayStatus.choices, default=PlayStatus.PENDING)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.ForeignKey(
        DismissReason, null=True, blank=True, on_delete=models.PROTECT, related_name="plays"
    )
    dismissed_note = models.TextField(blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    # Set while a pending play waits out its policy's grace period before withdrawal.
    withdraw_due_at = models.DateTimeField(null=True, blank=True)
    # A started play whose account stopped qualifying: the ADR decides what to do.
    account_disqualified_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="The ADR's personalised first touch.")
    outcome = models.CharField(
        max_length=30,
        choices=PlayOutcome.choices,
        blank=True,
        help_text="What came of it, given when the play is completed.",
    )
    policy = models.ForeignKey(SLAPolicy, on_delete=models.PROTECT, related_name="plays")
    policy_version = models.PositiveIntegerField()
    # Frozen ladder: [{"step", "kind", "at", "levels_up", "to_top", "label"}], in step order.
    plan = models.JSONField(default=list)
    # When the current SLA clock started: creation, or a restart (reopen, restart on move).
    clock_started_at = models.DateTimeField(null=True, blank=True)
    next_action_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["next_action_at"])

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status__in=["pending", "started"]),
                name="one_open_play_per_account",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_action_at"],
                condition=models.Q(status="pending"),
                name="play_next_action_pending",
            ),
            models.Index(fields=["assignee", "status"], name="play_assignee_status"),
            models.Index(
                fields=["withdraw_due_at"],
                condition=models.Q(status="pending", withdraw_due_at__isnull=False),
                name="play_withdraw_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Play #{self.pk}: {self.account.name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return f"/plays/{self.pk}/"

    @property
    def link(self) -> str:
        return f"{settings.SITE_URL}{self.get_absolute_url()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# The first word of escalation emails' subjects and chat titles, kept word for word
# because recipients filter their mail and chat alerts on it.
ESCALATION_WORD = "Escalation"  # compatibility: mail filters and chat alerts match it


class NoticeKind(models.TextChoices):
    ASSIGNED = "assigned", "New play"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Escalated"
    MENTION = "mention", "Mention"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown (crashed mid-send)"


class DeliveryState(models.Model):
    """The delivery state every message owed to someone shares (a notice's email, its chat
    messages): claimed once, retried with backoff, resent at most once after a crash
    (plays.claims, plays.escalation, plays.channels)."""

    status = models.CharField(
        max_length=20, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    crash_resends = models.PositiveSmallIntegerField(
        default=0, help_text="Resends after a worker died mid-send (at most one)."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


class Notice(DeliveryState):
    """One notice of a play (new play, reminder, escalation step or mention), sent at most
    once; a notice of kind "escalation" is one rung of the escalation-step ladder.

    Reminders and escalations are numbered by their plan step; "assigned" notices by the
    play's assignment round (0 at creation, then one per move to a new assignee);
    mentions in comments by their order on the play (1, 2, …)."""

    play = models.ForeignKey(Play, on_delete=models.CASCADE, related_name="notices")
    step = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    level = models.PositiveSmallIntegerField(
        default=0, help_text="How many levels above the assignee the recipient is (0: assignee)."
    )
    recipient = models.ForeignKey(
        "mqaflow.Owner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient_email = models.EmailField(blank=True)
    due_at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="Why this recipient; who was skipped and why.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["play", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["play", "kind", "step"], name="one_notice_per_kind_step"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="notice_undelivered",
            ),
        ]

    def __str__(self) -> str:
        kind = self.get_kind_display()
        return f"{kind} {self.step} of play #{self.play_id} → {self.recipient_email}"


class PlayLogEntry(models.Model):
    """One line of the play's log: created, assigned, started, reassigned, dismissed…

    Not to be confused with `mqaflow.EngagementEvent`, what the account's people did."""

    play = models.ForeignKey(Play, on_delete=models.CASCADE, related_name="log_entries")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=30)
    from_assignee = models.ForeignKey(
        "mqaflow.Owner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_assignee = models.ForeignKey(
        "mqaflow.Owner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "play log entries"

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class PlayComment(models.Model):
    """A note on a play by a teammate or manager; @mentioned people get a notice."""

    play = models.ForeignKey(Play, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField()
    mentions = models.ManyToManyField("mqaflow.Owner", blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment on play #{self.play_id} at {self.created_at:%Y-%m-%d %H:%M}"


# --- Notification preferences and chat channels -------------------------------------------


class NoticeDelivery(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    HOURLY = "hourly", "Hourly digest"
    DAILY = "daily", "Daily digest"


def _validate_time_zone(value: str) -> None:
    from zoneinfo import available_timezones

    if value and value not in available_timezones():
        raise ValidationError(f"{value!r} is not a time zone, e.g. Europe/Paris.")


class NotificationPreference(models.Model):
    """How one owner wants their notices: channels, digest or not, quiet hours.

    New-play notices are always immediate (an ADR must hear at once); reminders and
    escalations follow `delivery`. Quiet hours hold every notice except an urgent
    escalation step until they end, in the owner's own time zone."""

    owner = models.OneToOneField(
        "mqaflow.Owner", on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField("email", default=True)
    slack_webhook_url = models.URLField("Slack incoming-webhook URL", max_length=500, blank=True)
    teams_webhook_url = models.URLField(
        "Microsoft Teams incoming-webhook URL", max_length=500, blank=True
    )
    delivery = models.CharField(
        max_length=10,
        choices=NoticeDelivery.choices,
        default=NoticeDelivery.IMMEDIATE,
        help_text="For reminders and escalations; new plays are always sent at once.",
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=9,
        validators=[MaxValueValidator(23)],
        help_text="Local hour of the daily digest.",
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[_validate_time_zone],
        help_text="e.g. Europe/Paris; empty: the server's time zone.",
    )
    quiet_start = models.TimeField(null=True, blank=True, help_text="e.g. 20:00")
    quiet_end = models.TimeField(null=True, blank=True, help_text="e.g. 07:30")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "notification preference"

    def __str__(self) -> str:
        return f"Notifications of {self.owner}"

    def clean(self) -> None:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValidationError({"quiet_end": "Give both ends of the quiet hours, or neither."})
        if not (self.email or self.slack_webhook_url or self.teams_webhook_url):
            raise ValidationError({"email": "Keep at least one channel."})

    def chat_channels(self) -> dict[str, str]:
        channels: dict[str, str] = {}
        if self.slack_webhook_url:
            channels[ChatChannel.SLACK] = self.slack_webhook_url
        if self.teams_webhook_url:
            channels[ChatChannel.TEAMS] = self.teams_webhook_url
        return channels


class ChatChannel(models.TextChoices):
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class ChatNotice(DeliveryState):
    """A notice on a chat channel: sent at most once per (play, step, channel), with the
    same claim, retry and backoff rules as its email (plays.channels)."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="chat_notices")
    channel = models.CharField(max_length=10, choices=ChatChannel.choices)
    recipient = models.ForeignKey("mqaflow.Owner", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["notice", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "channel"], name="one_chat_notice_per_channel"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="chat_notice_undelivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.notice}"
