"""Contacts: the people at an account whose engagement counts."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.db import transaction

from mqaflow.models import Account, Contact

from .parsing import ItemErrors, to_domain, to_email, to_external_id, to_text
from .upserts import UpsertResult, UpsertSpec, _upsert


def contact_create(**fields: Any) -> Contact:
    fields["email"] = (fields.get("email") or "").strip().lower()
    contact = Contact(**fields)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, **changes: Any) -> Contact:
    """Apply changes to the stored row, locked, as owner_update and account_update do: two
    concurrent edits (a sync and an admin) do not overwrite each other's fields."""
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    return locked


def contacts_upsert(
    *,
    items: list,
    by: Any = None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update contacts by external_id or (account domain, email)."""
    return _upsert(
        ContactUpsert(), items=items, by=by, create_only=create_only, limit=limit, strict=strict
    )


class ContactUpsert(UpsertSpec[Contact]):
    fields = {
        "account": to_domain,
        "email": to_email,
        "name": to_text,
        "title": to_text,
        "persona": to_text,
        "seniority": to_text,
        "external_id": to_external_id,
    }
    key_field = "email"
    exists_message = "A contact with this email already exists at this account."

    def key(self, data: dict[str, Any]) -> Hashable | None:
        if data.get("account") and data.get("email"):
            return (data["account"], data["email"])
        return None

    def key_of(self, row: Contact) -> Hashable:
        return (row.account.domain, row.email)

    def require(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        for field in ("account", "email"):
            if not data.get(field) and field not in errors.get(index, {}):
                errors.add(index, field, "This field is required.")

    def load(self, parsed: list[dict[str, Any]], keys: list[Hashable | None]) -> None:
        pairs = [key for key in keys if isinstance(key, tuple)]
        self.accounts = Account.objects.in_bulk({k[0] for k in pairs}, field_name="domain")
        contacts = Contact.objects.select_related("account")
        self.by_key = {
            (c.account.domain, c.email): c
            for c in contacts.filter(
                account__domain__in=list(self.accounts), email__in={k[1] for k in pairs}
            )
        }
        externals = [data["external_id"] for data in parsed if data.get("external_id")]
        self.by_external = {
            str(c.external_id): c  # one of the batch's ids: never null
            for c in contacts.filter(external_id__in=externals)
        }

    def resolve(self, index: int, data: dict[str, Any], errors: ItemErrors) -> bool:
        account = self.accounts.get(data["account"])
        if account is None:
            errors.add(index, "account", f"No account {data['account']}.")
            return False
        data["account"] = account
        return True

    def create(self, data: dict[str, Any]) -> Contact:
        return contact_create(**data)

    def update(self, row: Contact, changes: dict[str, Any], *, by: Any) -> None:
        contact_update(contact=row, **changes)
