"""The go-to-market org and the accounts it sells to: owners, accounts, contacts, engagement."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import connection, models
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from .choices import Funnel, MQAStatus, Persona, Seniority

_CHAIN_SQL = """
WITH RECURSIVE chain(id, manager_id, depth) AS (
    SELECT id, manager_id, 0 FROM mqaflow_owner WHERE id = %s
    UNION ALL
    SELECT o.id, o.manager_id, c.depth + 1
    FROM mqaflow_owner o JOIN chain c ON o.id = c.manager_id
    WHERE c.depth < %s
)
SELECT id FROM chain ORDER BY depth
"""

_SUBTREE_SQL = """
WITH RECURSIVE tree(id, depth) AS (
    SELECT id, 0 FROM mqaflow_owner WHERE id = %s
    UNION ALL
    SELECT o.id, t.depth + 1
    FROM mqaflow_owner o JOIN tree t ON o.manager_id = t.id
    WHERE t.depth < %s
)
SELECT DISTINCT id FROM tree
"""

# An org chart deeper than this is a data error; the bound also stops a cycle from looping.
MAX_CHAIN_DEPTH = 50


class Owner(models.Model):
    """A person in the go-to-market org; `manager` links form the chain up to the CEO."""

    # Not columns: who makes the change being saved (told to the signals), and whether the
    # row was active when loaded (a deactivation is told once).
    _changed_by: Any
    _stored_is_active: bool | None

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owner"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    title = models.CharField(max_length=200, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    delegate = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Takes over this owner's plays when they leave (deactivated) or are away "
        "with no delegate of their own; empty: their manager does.",
    )
    is_active = models.BooleanField(default=True)
    weekly_play_capacity = models.PositiveSmallIntegerField(
        default=10,
        help_text="How many new plays this owner can work in a week (the team board compares "
        "each ADR's load this week with it).",
    )
    external_id = models.CharField(
        max_length=100, null=True, blank=True, help_text="The CRM's id for this person."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(manager=models.F("pk")), name="owner_not_own_manager"
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="owner_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def save(self, *args, **kwargs) -> None:
        """Deactivating an owner tells the plays app (their open plays move on).

        The signal is sent here rather than by owner_update because every path that saves
        an owner must announce it (admin, services, raw saves in scripts or a shell); who
        made the change comes through `_changed_by`, which the caller sets before saving
        (unset: nobody known), since save() has no argument for it."""
        from mqaflow.signals import owner_deactivated

        was_active = getattr(self, "_stored_is_active", None)
        super().save(*args, **kwargs)
        self._stored_is_active = self.is_active
        if was_active and not self.is_active:
            owner_deactivated.send(sender=Owner, owner=self, by=getattr(self, "_changed_by", None))

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._stored_is_active = instance.__dict__.get("is_active")
        return instance

    def chain_ids(self) -> list[int]:
        """Ids from this owner up to the top of the chain, in one recursive query."""
        with connection.cursor() as cursor:
            cursor.execute(_CHAIN_SQL, [self.pk, MAX_CHAIN_DEPTH])
            return [row[0] for row in cursor.fetchall()]

    def managers(self) -> list[Owner]:
        """The management chain above this owner, nearest first, ending at the top."""
        ids = self.chain_ids()[1:]
        by_id = Owner.objects.in_bulk(ids)
        return [by_id[i] for i in ids if i in by_id]

    def subtree_ids(self) -> set[int]:
        """This owner and everyone reporting to them, directly or not."""
        with connection.cursor() as cursor:
            cursor.execute(_SUBTREE_SQL, [self.pk, MAX_CHAIN_DEPTH])
            return {row[0] for row in cursor.fetchall()}

    def clean(self) -> None:
        if self.manager_id is None:
            return
        if self.pk is None:
            return
        if self.manager_id == self.pk:
            raise ValidationError({"manager": "An owner cannot be their own manager."})
        manager = self.manager
        if manager is not None and self.pk in manager.chain_ids():
            raise ValidationError(
                {"manager": f"{manager.name} reports to {self.name}: that would be a cycle."}
            )

    def clean_fields(self, exclude=None) -> None:
        super().clean_fields(exclude=exclude)
        if self.delegate_id is not None and self.delegate_id == self.pk:
            raise ValidationError({"delegate": "An owner cannot be their own delegate."})


# The fields only the qualification engine writes: read-only everywhere else.
MQA_STATE_FIELDS = [
    "mqa_status",
    "qualified_at",
    "mqa_rule",
    "mqa_clause",
    "mqa_act_now_rule",
    "mqa_figures",
    "mqa_explanation",
]


class Account(models.Model):
    """A company marketing hands to sales as a whole; its MQA state is kept on the row."""

    # Not columns: who makes the change being saved, and the owner the row was loaded with
    # ("unknown" until loaded or saved), so an owner change is told to the signals once.
    _changed_by: Any
    _stored_owner_id: int | str | None

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, unique=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    funnel = models.PositiveSmallIntegerField(choices=Funnel.choices, default=Funnel.OTHER)
    employees = models.PositiveIntegerField(default=0)
    industry = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    excluded = models.BooleanField(default=False)
    excluded_reason = models.CharField(max_length=200, blank=True)

    # Current MQA state, written only by the qualification engine.
    mqa_status = models.CharField(
        max_length=20, choices=MQAStatus.choices, default=MQAStatus.NOT_QUALIFIED
    )
    qualified_at = models.DateTimeField(null=True, blank=True)
    mqa_rule = models.ForeignKey(
        "mqaflow.MQARule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mqa_clause = models.ForeignKey(
        "mqaflow.MQAClause", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mqa_act_now_rule = models.ForeignKey(
        "mqaflow.ActNowRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mqa_figures = models.JSONField(default=dict, blank=True)
    mqa_explanation = models.TextField(blank=True)
    # Evidence bookkeeping: a periodic catch-up re-evaluates accounts whose latest
    # ingested event is newer than their last evaluation (a lost enqueue loses nothing).
    last_event_ingested_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(
        excluded_fields=["last_event_ingested_at", "last_evaluated_at", "updated_at"]
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="account_external_id_unique_when_set",
            ),
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")), name="account_domain_lowercase"
            ),
        ]
        indexes = [
            models.Index(fields=["mqa_status"], name="account_mqa_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"

    def save(self, *args, **kwargs) -> None:
        """Every path that changes the owner (API, admin, CSV) tells the plays app, so the
        account's open play follows its owner.

        The signal is sent here rather than by account_update because every path that saves
        an account must announce an owner change (admin, services, raw saves in scripts or a
        shell); who made the change comes through `_changed_by`, which the caller sets before
        saving (unset: nobody known), since save() has no argument for it."""
        from mqaflow.signals import account_owner_changed

        self.domain = normalise_domain(self.domain)
        if self.external_id == "":
            self.external_id = None
        previous = getattr(self, "_stored_owner_id", "unknown")
        super().save(*args, **kwargs)
        self._stored_owner_id = self.owner_id
        if previous != "unknown" and previous != self.owner_id:
            account_owner_changed.send(
                sender=Account,
                account=self,
                previous_owner_id=previous,
                by=getattr(self, "_changed_by", None),
            )

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._stored_owner_id = instance.__dict__.get("owner_id", "unknown")
        return instance


def normalise_domain(value: str) -> str:
    """Domains compare case-insensitively and without surrounding dots or spaces."""
    return (value or "").strip().strip(".").lower()


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    persona = models.CharField(max_length=20, choices=Persona.choices, default=Persona.OTHER)
    seniority = models.CharField(
        max_length=20, choices=Seniority.choices, default=Seniority.INDIVIDUAL
    )
    external_id = models.CharField(
        max_length=100, null=True, blank=True, help_text="The CRM's id for this contact."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["account", "email"]
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_email_per_account"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="contact_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email} ({self.get_seniority_display()}, {self.persona})"

    def save(self, *args, **kwargs) -> None:
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)


class ActivityType(models.Model):
    """A kind of engagement and how many minutes of attention it is worth."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    minutes = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.minutes} min)"


class SeniorityMultiplier(models.Model):
    """How much a contact's minutes count for by seniority (a VP's may count double)."""

    seniority = models.CharField(max_length=20, choices=Seniority.choices, unique=True)
    multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0))],
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["seniority"]

    def __str__(self) -> str:
        return f"{self.get_seniority_display()} ×{self.multiplier}"


class EngagementEvent(models.Model):
    """One touch from an account; `minutes` is fixed at ingest so history stays explainable."""

    external_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    activity = models.ForeignKey(ActivityType, on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField()
    minutes = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    minutes_explicit = models.BooleanField(
        default=False,
        help_text="The source sent these minutes: weights never re-credit them when a rule "
        "set is promoted (an explicit `reweight_events` still does).",
    )
    source = models.CharField(max_length=100, blank=True)
    ingested_at = models.DateTimeField()

    # Ingest writes events in bulk (no history row: the event itself is the record);
    # what history captures is a later correction made in admin.
    history = HistoricalRecords()

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="event_account_time_idx"),
            models.Index(fields=["occurred_at"], name="event_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(minutes__gte=0), name="event_minutes_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.activity.key} at {self.account.domain} on {self.occurred_at:%Y-%m-%d}"
