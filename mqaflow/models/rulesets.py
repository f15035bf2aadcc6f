"""Rule sets: the rules in force as one version, so a change can be drafted, compared,
backtested and promoted as a whole instead of edited live one row at a time.

Exactly one set is live (a partial unique constraint). Every rule row (size bands, MQA rules
with their clauses, Act Now rules, bandwidth periods) belongs to one set. Weights are the
exception: events are credited at ingest from `ActivityType.minutes` and
`SeniorityMultiplier`, which stay the live set's weights; any other set keeps its own copy
(`ActivityWeight`, `SeniorityWeight`) that promotion writes back into them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import connection, models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .choices import Seniority


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    RETIRED = "retired", "Retired"


class RuleSetQuerySet(models.QuerySet["RuleSet"]):
    def live(self) -> RuleSet:
        """The live set, created empty when a flushed test database has none."""
        found, _ = self.get_or_create(status=RuleSetStatus.LIVE, defaults={"name": "Live rules"})
        return found


class RuleSet(models.Model):
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT, db_index=True
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    description = models.TextField(blank=True)
    shadow = models.BooleanField(
        default=False,
        help_text="Decide this draft at every recompute too and record its would-be "
        "transitions (no plays, no emails), for the scorecard.",
    )
    conversion_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1)],
        help_text="An MQA counts as converted when its account gets an opportunity "
        "within this many days after it qualified.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))
    objects = RuleSetQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="live"),
                name="rule_set_one_live",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display().lower()})"

    def clean(self) -> None:
        if self.shadow and self.status != RuleSetStatus.DRAFT:
            raise ValidationError({"shadow": "Only a draft can run in shadow."})

    @property
    def is_live(self) -> bool:
        return self.status == RuleSetStatus.LIVE

    @property
    def is_editable(self) -> bool:
        """Retired sets are kept as they were, to be compared with or promoted back."""
        return self.status != RuleSetStatus.RETIRED


def live_rule_set_pk() -> int:
    return RuleSet.objects.live().pk


# The advisory lock that orders promotions against the runs that decide or credit under the
# live set (an arbitrary constant: "mqaf"). Advisory locks queue fairly (a waiting promotion
# is not starved by a stream of share holders) and touch no row.
RULE_SET_LOCK = 0x6D716166


def rule_set_still_live(pk: int) -> bool:
    """Whether the set is live, holding the rule-set lock shared until the transaction ends
    (PostgreSQL): a promotion, which takes it exclusively, waits for the writes of the runs
    that decided under the old set, and a run that decided before a promotion sees its set
    retired."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [RULE_SET_LOCK])
    return RuleSet.objects.filter(pk=pk, status=RuleSetStatus.LIVE).exists()


def rule_sets_lock() -> None:
    """Take the rule-set lock exclusively for the transaction (a promotion)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RULE_SET_LOCK])


class InRuleSet(models.Model):
    """A rule row of one set (its `rule_set` field); saved without a set, it joins the live
    one, so code and tests written before rule sets keep editing the rules in force."""

    rule_set_id: int | None

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self._join_live_set()
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        self._join_live_set()
        super().clean_fields(exclude)

    def _join_live_set(self) -> None:
        if self.rule_set_id is None:
            self.rule_set_id = live_rule_set_pk()


class ActivityWeight(models.Model):
    """A non-live set's minutes for one activity type (the live set's are on the type)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="activity_weights")
    activity = models.ForeignKey("mqaflow.ActivityType", on_delete=models.CASCADE, related_name="+")
    minutes = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["rule_set", "activity__key"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "activity"], name="activity_weight_once_per_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.activity.key}: {self.minutes} min"


class SeniorityWeight(models.Model):
    """A non-live set's multiplier for one seniority (the live set's: SeniorityMultiplier)."""

    rule_set = models.ForeignKey(
        RuleSet, on_delete=models.CASCADE, related_name="seniority_weights"
    )
    seniority = models.CharField(max_length=20, choices=Seniority.choices)
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["rule_set", "seniority"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "seniority"], name="seniority_weight_once_per_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_seniority_display()} ×{self.multiplier}"
