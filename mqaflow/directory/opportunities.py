"""Opportunities: what the CRM made of an account, pushed in by its sync.

The CRM's id is the key: an id already stored updates its row (the stage moves, the amount
changes), so a sync can resend every open opportunity each night. The batch goes through the
upsert driver (every bad item and field named, nothing stored on error) but is written
set-based, with one history row per opportunity created or changed.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from mqaflow.models import Account, Opportunity
from mqaflow.models.opportunities import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    OPPORTUNITY_ID_MAX_LENGTH,
)
from mqaflow.validation import domain_problem, text_problem

from .parsing import ItemErrors, to_bool, to_domain, to_moment, to_past_moment
from .upserts import UpsertResult, UpsertSpec, _upsert

# The payload's fields, in the order the API documents them (and CSV files name columns).
FIELDS = (
    "id",
    "account",
    "name",
    "created_at",
    "stage",
    "amount",
    "currency",
    "closed_at",
    "won",
    "source",
)
REQUIRED = ("id", "account", "name", "created_at")
MAX_AMOUNT = Decimal(10 ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)) - Decimal("0.01")
# An amount given as text (CSV files, some JSON clients): plain decimal notation only.
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
AMOUNT_TEXT = re.compile(AMOUNT_PATTERN)
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
CURRENCY_TEXT = re.compile(CURRENCY_PATTERN)
WRITE_CHUNK = 1000
HISTORY_REASON = "CRM sync"
# Written by a sync (besides the key and the bookkeeping times).
SYNCED_FIELDS = [f for f in FIELDS if f != "id"]


def _bounded_text(max_length: int):
    def parse(value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        problem = text_problem(value)
        if problem:
            raise ValidationError(problem)
        if len(value) > max_length:
            raise ValidationError(f"At most {max_length} characters.")
        return value.strip()

    return parse


def to_created_at(value: Any) -> datetime | None:
    return to_past_moment(value)


def to_amount(value: Any) -> Decimal | None:
    """Money: a number or its plain decimal text, 0 up to MAX_AMOUNT, at most in cents (a
    sync is refused rather than have its amounts rounded)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError("Must be a number.")
    if isinstance(value, str) and not AMOUNT_TEXT.fullmatch(value):
        raise ValidationError("Must be a number such as 1200 or 1200.50.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError("Must be a number.") from None
    if not amount.is_finite():
        raise ValidationError("Must be a finite number.")
    if amount < 0:
        raise ValidationError("Must be zero or more.")
    if amount > MAX_AMOUNT:
        raise ValidationError(f"Must be at most {MAX_AMOUNT}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError("At most 2 decimal places.")
    return amount.quantize(Decimal("0.01"))


def to_currency(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not CURRENCY_TEXT.fullmatch(value):
        raise ValidationError("A 3-letter ISO 4217 code, e.g. USD.")
    return value.upper()


def to_won(value: Any) -> bool | None:
    """true, false, or null while the opportunity is open."""
    if value is None:
        return None
    return to_bool(value)


def to_opportunity_id(value: Any) -> str | None:
    return _bounded_text(OPPORTUNITY_ID_MAX_LENGTH)(value) or None


def opportunities_upsert(
    *,
    items: list,
    by: Any = None,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update opportunities by the CRM's id, all or nothing.

    `updated` counts the stored opportunities whose values changed, `unchanged` those the
    item repeats as they are (no write, no history row).
    """
    return _upsert(OpportunityUpsert(), items=items, by=by, limit=limit, strict=strict)


class OpportunityUpsert(UpsertSpec[Opportunity]):
    fields = {
        "id": to_opportunity_id,
        "account": to_domain,
        "name": _bounded_text(200),
        "created_at": to_created_at,
        "stage": _bounded_text(100),
        "amount": to_amount,
        "currency": to_currency,
        "closed_at": to_moment,
        "won": to_won,
        "source": _bounded_text(100),
    }
    key_field = "id"
    exists_message = "An opportunity with this id already exists."

    def require(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        given = errors.get(index, {})
        for field in REQUIRED:
            if data.get(field) in (None, "") and field not in given:
                errors.add(index, field, "This field is required.")
        domain = data.get("account")
        if domain and (problem := domain_problem(domain)):
            errors.add(index, "account", problem)
        if data.get("amount") is not None and not data.get("currency") and "currency" not in given:
            errors.add(index, "currency", "Required when an amount is given.")
        created, closed = data.get("created_at"), data.get("closed_at")
        if created and closed and closed < created:
            errors.add(index, "closed_at", "Must not be before created_at.")

    def key_of(self, row: Opportunity) -> Hashable:
        return row.external_id

    def load(self, parsed: list[dict[str, Any]], keys: list[Hashable | None]) -> None:
        domains = {data["account"] for data in parsed if data.get("account")}
        self.accounts = Account.objects.in_bulk(domains, field_name="domain")
        # Locked, in one order: two syncs updating the same opportunities queue up.
        stored = (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(external_id__in=[k for k in keys if k])
            .order_by("pk")
        )
        self.by_key = {row.external_id: row for row in stored}

    def resolve(self, index: int, data: dict[str, Any], errors: ItemErrors) -> bool:
        account = self.accounts.get(data["account"])
        if account is None:
            errors.add(index, "account", f"No account with domain {data['account']!r}.")
            return False
        data["account"] = account
        return True

    def write(
        self,
        parsed: list[dict[str, Any]],
        rows: dict[int, Opportunity | None],
        *,
        by: Any,
        errors: ItemErrors,
    ) -> UpsertResult:
        if errors:
            return UpsertResult()  # the driver refuses the batch: write nothing
        now = timezone.now()
        user = by if getattr(by, "is_authenticated", False) else None
        new: list[Opportunity] = []
        changed: list[Opportunity] = []
        result = UpsertResult()
        for index, row in rows.items():
            values = {_column(k): v for k, v in parsed[index].items()}
            if row is None:
                new.append(Opportunity(**values, ingested_at=now, updated_at=now))
                continue
            changes = self.changes(row, values)
            if not changes:
                result.unchanged += 1
                continue
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            changed.append(row)
        try:
            with transaction.atomic():
                bulk_create_with_history(
                    new,
                    Opportunity,
                    batch_size=WRITE_CHUNK,
                    default_user=user,
                    default_change_reason=HISTORY_REASON,
                )
        except IntegrityError:
            # A concurrent sync stored some of the same new ids first.
            raced = set(
                Opportunity.objects.filter(
                    external_id__in=[o.external_id for o in new]
                ).values_list("external_id", flat=True)
            )
            for index, row in rows.items():
                if row is None and parsed[index]["id"] in raced:
                    errors.add(index, "id", "Stored meanwhile by another request; send again.")
            if not errors:
                raise
            return result
        bulk_update_with_history(
            changed,
            Opportunity,
            fields=[*SYNCED_FIELDS, "updated_at"],
            batch_size=WRITE_CHUNK,
            default_user=user,
            default_change_reason=HISTORY_REASON,
        )
        result.created = len(new)
        result.updated = len(changed)
        return result


def _column(field: str) -> str:
    return "external_id" if field == "id" else field
