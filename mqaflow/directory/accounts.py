"""Accounts: the companies marketing hands to sales, and what an edit of one sets off."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.db import transaction

from mqaflow.models import Account, Owner, normalise_domain

from .parsing import (
    ItemErrors,
    to_bool,
    to_domain,
    to_external_id,
    to_int,
    to_optional_email,
    to_text,
)
from .upserts import UpsertResult, UpsertSpec, _upsert


def account_create(**fields: Any) -> Account:
    fields["domain"] = normalise_domain(fields.get("domain", ""))
    account = Account(**fields)
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, by: Any = None, **changes: Any) -> Account:
    """Update an account; excluding or re-funnelling it asks for a re-evaluation, and an
    owner change moves the account's open play to the new owner (the plays app listens)."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    cause = _change_cause(locked, changes)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    if cause:
        from mqaflow.qualification.scheduling import recompute_request

        recompute_request(account_ids=[locked.pk], cause=cause)
    return locked


def _change_cause(account: Account, changes: dict[str, Any]) -> str:
    """The recompute cause of an edit ("exclusion", "segment change"), or "" if the edit
    cannot change the account's MQA status."""
    changed = {
        name
        for name, value in changes.items()
        if name in ("excluded", "funnel", "employees") and value != getattr(account, name)
    }
    if "excluded" in changed:
        return "exclusion"
    return "segment change" if changed else ""


def accounts_upsert(
    *,
    items: list,
    by: Any = None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update accounts by external_id or domain; owners are given by email."""
    return _upsert(
        AccountUpsert(), items=items, by=by, create_only=create_only, limit=limit, strict=strict
    )


class AccountUpsert(UpsertSpec[Account]):
    fields = {
        "domain": to_domain,
        "name": to_text,
        "funnel": to_int,
        "employees": to_int,
        "industry": to_text,
        "owner": to_optional_email,
        "excluded": to_bool,
        "excluded_reason": to_text,
        "external_id": to_external_id,
    }
    key_field = "domain"
    exists_message = "An account with this domain already exists."

    def require(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        domain = data.get("domain")
        if not domain and index not in errors:
            errors.add(index, "domain", "This field is required.")
        elif domain and ("." not in domain or " " in domain):
            errors.add(index, "domain", "Enter a domain such as acme.com.")

    def load(self, parsed: list[dict[str, Any]], keys: list[Hashable | None]) -> None:
        wanted = {data["owner"] for data in parsed if data.get("owner")}
        self.owners = {o.email: o for o in Owner.objects.filter(email__in=wanted)}
        self.by_key = Account.objects.in_bulk([k for k in keys if k], field_name="domain")
        externals = [data["external_id"] for data in parsed if data.get("external_id")]
        for account in Account.objects.filter(external_id__in=externals):
            external = str(account.external_id)  # one of the batch's ids: never null
            if external in self.by_external:
                self.by_external[external] = None  # ambiguous
            else:
                self.by_external[external] = account

    def resolve(self, index: int, data: dict[str, Any], errors: ItemErrors) -> bool:
        if data.get("external_id") and self.by_external.get(data["external_id"], 0) is None:
            errors.add(index, "external_id", "Several accounts have this external_id.")
            return False
        if data.get("owner"):
            if data["owner"] not in self.owners:
                errors.add(index, "owner", f"No owner {data['owner']}.")
                return False
            data["owner"] = self.owners[data["owner"]]
        return True

    def check_new(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        if not data.get("name"):
            errors.add(index, "name", "This field is required.")

    def changes(self, row: Account, data: dict[str, Any]) -> dict[str, Any]:
        if "excluded" in data and not data["excluded"]:
            data.setdefault("excluded_reason", "")  # including it no longer has a reason
        return super().changes(row, data)

    def create(self, data: dict[str, Any]) -> Account:
        return account_create(**data)

    def update(self, row: Account, changes: dict[str, Any], *, by: Any) -> None:
        account_update(account=row, by=by, **changes)
