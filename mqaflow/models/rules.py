"""MQA rules as data: segments, clauses, Act Now triggers and the bandwidth calendar.

How these rows are read lives in mqaflow/qualification/rulebook.py; how they decide an
account, in mqaflow/qualification/engine.py (and the SQL it compiles them to, sql.py).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from .choices import Funnel, Persona, Seniority
from .rulesets import InRuleSet, RuleSet


def _rule_set_field(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        RuleSet,
        on_delete=models.CASCADE,
        related_name=related_name,
        verbose_name="rule set",
        blank=True,
        help_text="Empty: the live set.",
    )


class SizeBand(InRuleSet):
    """A company-size band, e.g. small (< 200 employees) and large (>= 200)."""

    rule_set = _rule_set_field("size_bands")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    min_employees = models.PositiveIntegerField(default=0)
    max_employees = models.PositiveIntegerField(
        null=True, blank=True, help_text="Exclusive upper bound; empty means no upper bound."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["min_employees"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "slug"], name="size_band_slug_per_set")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.max_employees is not None and self.max_employees <= self.min_employees:
            raise ValidationError({"max_employees": "Must be greater than min employees."})


class MQARule(InRuleSet):
    """Thresholds for one segment; the most specific active rule for an account applies."""

    rule_set = _rule_set_field("rules")
    name = models.CharField(max_length=200)
    funnel = models.PositiveSmallIntegerField(
        choices=Funnel.choices, null=True, blank=True, help_text="Empty: any funnel."
    )
    size_band = models.ForeignKey(
        SizeBand,
        null=True,
        blank=True,
        # RESTRICT, not PROTECT: deleting a whole draft set deletes its rules and bands together.
        on_delete=models.RESTRICT,
        related_name="rules",
        help_text="Empty: any company size.",
    )
    is_active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Clause changes are written into the rule's history rows: long reasons need text.
    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["funnel", "size_band__min_employees", "name"]
        verbose_name = "MQA rule"

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> int:
        return (self.funnel is not None) + (self.size_band_id is not None)

    def clean(self) -> None:
        band = self.size_band if self.size_band_id is not None else None
        if band is not None and self.rule_set_id and band.rule_set_id != self.rule_set_id:
            raise ValidationError({"size_band": "Pick a size band of the same rule set."})
        if not self.is_active:
            return
        clash = MQARule.objects.filter(
            rule_set_id=self.rule_set_id,
            is_active=True,
            funnel=self.funnel,
            size_band_id=self.size_band_id,
        ).exclude(pk=self.pk)
        if clash.exists():
            raise ValidationError(
                f"“{clash.first()}” already covers this funnel and size band; "
                "deactivate it or change the segment."
            )


class MQAClause(models.Model):
    """Which engagement counts (window, personas, seniority) and an AND of thresholds on it.

    A rule's clauses are combined with OR. Every threshold left empty is not checked.
    """

    rule = models.ForeignKey(MQARule, on_delete=models.CASCADE, related_name="clauses")
    order = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=200, blank=True)
    window_days = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    personas = models.JSONField(
        default=list,
        blank=True,
        help_text="Only contacts of these personas count; empty means all (anonymous too).",
    )
    min_seniority = models.CharField(
        max_length=20,
        choices=Seniority.choices,
        blank=True,
        help_text="Only contacts of this seniority or above count.",
    )
    min_minutes = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    min_people = models.PositiveIntegerField(null=True, blank=True)
    min_personas = models.PositiveIntegerField(null=True, blank=True)
    min_events = models.PositiveIntegerField(null=True, blank=True)
    require_seniority = models.CharField(
        max_length=20,
        choices=Seniority.choices,
        blank=True,
        help_text="At least one engaged contact of this seniority or above.",
    )
    min_qualified_leads = models.PositiveIntegerField(null=True, blank=True)
    lead_minutes = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Minutes one contact needs in the window to count as a qualified lead.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["rule", "order", "pk"]
        verbose_name = "MQA clause"

    def __str__(self) -> str:
        return self.name or f"{self.rule} clause {self.order}"

    def clean(self) -> None:
        unknown = set(self.personas or []) - set(Persona.values)
        if unknown:
            raise ValidationError(
                {"personas": f"Unknown persona(s): {', '.join(sorted(unknown))}."}
            )
        thresholds = [
            self.min_minutes,
            self.min_people,
            self.min_personas,
            self.min_events,
            self.require_seniority or None,
            self.min_qualified_leads,
        ]
        if all(t is None for t in thresholds):
            raise ValidationError("A clause needs at least one threshold.")
        if self.min_qualified_leads is not None and self.lead_minutes is None:
            raise ValidationError({"lead_minutes": "Required with min qualified leads."})


class ActNowRule(InRuleSet):
    """An action that qualifies an account at once, whatever the segment's thresholds say."""

    rule_set = _rule_set_field("act_now_rules")
    name = models.CharField(max_length=200)
    activity = models.ForeignKey(
        "mqaflow.ActivityType", on_delete=models.PROTECT, related_name="act_now_rules"
    )
    min_people = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    window_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])
    min_seniority = models.CharField(max_length=20, choices=Seniority.choices, blank=True)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "Act Now rule"

    def __str__(self) -> str:
        return self.name


class BandwidthPeriod(InRuleSet):
    """Scales every threshold for a date range, e.g. ×1.5 in December when ADRs are few."""

    rule_set = _rule_set_field("bandwidth_periods")
    name = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Inclusive.")
    factor = models.DecimalField(
        max_digits=4, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return f"{self.name} (×{self.factor}, {self.starts_on} – {self.ends_on})"

    def clean(self) -> None:
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "Must be on or after the start date."})
