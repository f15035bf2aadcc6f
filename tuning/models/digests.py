"""Who wants the weekly tuning digest, and which weeks each of them has been sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DigestSubscription(models.Model):
    """A staff member or manager who asked for the weekly tuning digest (the toggle on the
    scorecard page). Whether they may still have it is checked when it is sent."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tuning_digest"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"tuning digest for {self.user}"


class DigestDelivery(models.Model):
    """One digest owed to one person for one week, claimed (inserted) before it is sent:
    the unique pair is what makes two beats of the same week send it once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tuning_digests"
    )
    week = models.DateField(help_text="The Monday of the week it was sent in.")
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week", "user"]
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="tuning_digest_once_a_week")
        ]

    def __str__(self) -> str:
        return f"tuning digest of {self.week} for {self.user}"
