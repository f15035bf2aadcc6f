"""A backtest run: one rule set replayed over past weeks next to the live set, and what
came of it (stored, so runs can be compared later without replaying again)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

MAX_WEEKS = 52
# A run whose worker has not written for this long is taken to be lost (killed, redeployed):
# it may be claimed again, and it no longer blocks a new run of its set.
STALLED_AFTER = timedelta(minutes=10)


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BacktestRun(models.Model):
    rule_set = models.ForeignKey(
        "mqaflow.RuleSet", on_delete=models.CASCADE, related_name="backtest_runs"
    )
    # The live set when the run was requested: the comparison stays the same if another set
    # is promoted while the run waits or works. Deleting that set (once retired) keeps the
    # run and its stored results.
    live_set = models.ForeignKey(
        "mqaflow.RuleSet", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    weeks = models.PositiveSmallIntegerField(
        default=13, validators=[MinValueValidator(1), MaxValueValidator(MAX_WEEKS)]
    )
    start = models.DateField(help_text="First day replayed (a Monday).")
    end = models.DateField(help_text="Last day replayed (a Sunday), inclusive.")
    status = models.CharField(
        max_length=20,
        choices=BacktestStatus.choices,
        default=BacktestStatus.QUEUED,
        db_index=True,
    )
    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="Percent done."
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it."
    )
    results = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "backtest run"

    def __str__(self) -> str:
        return f"Backtest #{self.pk} of rule set {self.rule_set_id} ({self.start} – {self.end})"

    def get_absolute_url(self) -> str:
        return reverse("tuning:backtest_run", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (BacktestStatus.DONE, BacktestStatus.FAILED)

    @property
    def is_stalled(self) -> bool:
        """Queued or running, with no sign of life for STALLED_AFTER."""
        if self.is_finished:
            return False
        last = self.heartbeat_at or self.created_at
        return timezone.now() - last > STALLED_AFTER
