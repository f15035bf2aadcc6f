"""What MQAs lead to: the CRM's opportunities, pushed in by the CRM sync.

An MQA is judged by its outcome, so opportunities are kept with their history (the stage
moves and the amount changes as the deal goes on) and read by
mqaflow.qualification.outcomes to count conversions and pipeline.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

OPPORTUNITY_ID_MAX_LENGTH = 200
AMOUNT_MAX_DIGITS = 14
AMOUNT_DECIMAL_PLACES = 2
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class Opportunity(models.Model):
    """One CRM opportunity at an account, as the CRM last told it."""

    external_id = models.CharField(
        max_length=OPPORTUNITY_ID_MAX_LENGTH, unique=True, help_text="The CRM's id."
    )
    account = models.ForeignKey(
        "mqaflow.Account", on_delete=models.CASCADE, related_name="opportunities"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(help_text="When the CRM created the opportunity.")
    stage = models.CharField(max_length=100, blank=True, help_text='e.g. "discovery".')
    amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        validators=[RegexValidator(CURRENCY_PATTERN, "A 3-letter ISO 4217 code, e.g. USD.")],
        help_text="ISO 4217, upper case.",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    won = models.BooleanField(null=True, blank=True, help_text="Empty while open.")
    source = models.CharField(max_length=100, blank=True)
    ingested_at = models.DateTimeField(help_text="When mqaflow first stored it.")
    updated_at = models.DateTimeField(help_text="When a sync last changed it.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["account", "created_at"], name="opportunity_account_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gte=0),
                name="opportunity_amount_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    def save(self, *args, **kwargs) -> None:
        self.currency = (self.currency or "").strip().upper()
        super().save(*args, **kwargs)
