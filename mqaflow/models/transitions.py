"""Every change of an account's MQA status, with the figures that caused it, and every
recompute run that looked for such changes."""

from django.db import models

from .choices import MQAStatus


class StatusChange(models.Model):
    """A change of MQA status and what decided it: the rule, clause or Act Now rule, the
    figures and the sentence. Live (`MQATransition`) or would-be (`ShadowTransition`)."""

    from_status = models.CharField(max_length=20, choices=MQAStatus.choices)
    to_status = models.CharField(max_length=20, choices=MQAStatus.choices)
    at = models.DateTimeField()
    rule = models.ForeignKey(
        "mqaflow.MQARule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clause = models.ForeignKey(
        "mqaflow.MQAClause", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    act_now_rule = models.ForeignKey(
        "mqaflow.ActNowRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Snapshot of the segment at the time, so reports survive later edits of the account.
    funnel = models.PositiveSmallIntegerField()
    size_band = models.CharField(max_length=50, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    explanation = models.TextField(blank=True)
    # What asked for the evaluation: "ingest", "schedule", "rule change by <user>",
    # "manual", "exclusion"… so history and reports can tell a real change from a re-run.
    cause = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        abstract = True


class MQATransition(StatusChange):
    account = models.ForeignKey(
        "mqaflow.Account", on_delete=models.CASCADE, related_name="mqa_transitions"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "MQA transition"
        indexes = [
            models.Index(fields=["account", "-at"], name="transition_account_at_idx"),
            models.Index(fields=["to_status", "at"], name="transition_status_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.from_status} → {self.to_status} at {self.at:%Y-%m-%d %H:%M}"


class RecomputeRun(models.Model):
    """One run of the qualification engine: when, over what, what it changed and why.

    Replaces stamping `last_evaluated_at` on every evaluated account (a full recompute
    rewrote 100,000 rows to say nothing had changed). /health/ and the admin show the
    latest runs; the catch-up job starts from the last run that covered every account.
    """

    class Scope(models.TextChoices):
        ALL = "all", "All accounts"
        ACCOUNTS = "accounts", "Given accounts"

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    evaluated_for = models.DateTimeField(help_text="The moment the rules were applied at.")
    scope = models.CharField(max_length=20, choices=Scope.choices)
    accounts = models.PositiveIntegerField(help_text="Accounts evaluated.")
    transitions = models.PositiveIntegerField(help_text="Status changes recorded.")
    cause = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["scope", "-started_at"], name="recompute_scope_started_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_ms(self) -> int:
        return round((self.finished_at - self.started_at).total_seconds() * 1000)


class ShadowTransition(StatusChange):
    """A change of status a draft in shadow would have made: decided at every recompute
    like the live rules, recorded here only (no account field, no play, no email), so the
    scorecard can compare the draft with the live set on fresh data."""

    rule_set = models.ForeignKey(
        "mqaflow.RuleSet", on_delete=models.CASCADE, related_name="shadow_transitions"
    )
    account = models.ForeignKey(
        "mqaflow.Account", on_delete=models.CASCADE, related_name="shadow_transitions"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "shadow transition"
        indexes = [
            models.Index(fields=["rule_set", "to_status", "at"], name="shadow_set_status_at_idx"),
        ]

    def __str__(self) -> str:
        change = f"{self.from_status} → {self.to_status}"
        return f"[shadow] {self.account} {change} at {self.at:%Y-%m-%d %H:%M}"


class ShadowStatus(models.Model):
    """An account's status under a draft in shadow, what its next decision is compared
    with (an account without a row is "not qualified", as a new account is). Seeded from
    the live statuses the first time the draft runs in shadow, so the draft starts where
    the live set is and records only where it departs from it."""

    rule_set = models.ForeignKey(
        "mqaflow.RuleSet", on_delete=models.CASCADE, related_name="shadow_statuses"
    )
    account = models.ForeignKey("mqaflow.Account", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=MQAStatus.choices)

    class Meta:
        verbose_name = "shadow status"
        verbose_name_plural = "shadow statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "account"], name="shadow_status_once_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} under {self.rule_set_id}: {self.status}"
