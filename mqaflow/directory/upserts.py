"""The upsert driver: parse → resolve → write, the same for owners, accounts and contacts.

A batch is matched row by row on the CRM id (`external_id`) when given, else on the
natural key (owner email, account domain, contact account + email); a match is updated
only if something differs, everything else is created. The whole batch is validated and
written in one transaction: one bad item and nothing is stored, the error names every bad
item and field. Updates go through the entity's own update service (owner_update,
account_update, …), so deactivations, owner changes and exclusions have the same
consequences (plays move, accounts are recomputed) as a single edit.

What differs per entity (its fields, key, references, checks and writes) is an
`UpsertSpec`; the entity modules (owners.py, accounts.py, contacts.py) define theirs.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction

from .parsing import (
    ItemErrors,
    Parser,
    UpsertInvalid,
    check_batch_size,
    mark_duplicates,
    parse_item,
)

RowT = TypeVar("RowT", bound=models.Model)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class UpsertSpec(Generic[RowT]):
    """One kind of record as the driver sees it; an instance serves one batch.

    The defaults write each valid item on its own (savepoint per item, so every item's
    database-side problems are reported too); owners override `write`.
    """

    fields: ClassVar[dict[str, Parser]]
    aliases: ClassVar[dict[str, str]] = {}
    # The natural key's field, named in duplicate and "already exists" errors.
    key_field: ClassVar[str]
    exists_message: ClassVar[str]
    # An item that already failed is not looked at further (its later problems would only
    # restate the first); owners look on, so one answer names every broken manager link.
    skip_failed: ClassVar[bool] = True

    def __init__(self) -> None:
        self.by_key: dict[Any, RowT] = {}
        self.by_external: dict[str, RowT | None] = {}

    def key(self, data: dict[str, Any]) -> Hashable | None:
        return data.get(self.key_field)

    def key_of(self, row: RowT) -> Hashable:
        return getattr(row, self.key_field)

    def require(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        """Required fields and their form, once the item is parsed."""

    def load(self, parsed: list[dict[str, Any]], keys: list[Hashable | None]) -> None:
        """Fetch the existing rows (`by_key`, `by_external`) and what items refer to."""
        raise NotImplementedError

    def resolve(self, index: int, data: dict[str, Any], errors: ItemErrors) -> bool:
        """Replace references by rows; False when the item cannot go on."""
        return True

    def check_new(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        """What an item needs to create a record (none matched)."""

    def check_batch(self, parsed: list[dict[str, Any]], errors: ItemErrors) -> None:
        """Checks across items, once each has been matched."""

    def create(self, data: dict[str, Any]) -> RowT:
        raise NotImplementedError

    def update(self, row: RowT, changes: dict[str, Any], *, by: Any) -> None:
        raise NotImplementedError

    def changes(self, row: RowT, data: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in data.items() if getattr(row, name) != value}

    def write(
        self,
        parsed: list[dict[str, Any]],
        rows: dict[int, RowT | None],
        *,
        by: Any,
        errors: ItemErrors,
    ) -> UpsertResult:
        result = UpsertResult()
        for index, row in rows.items():
            if index in errors:
                continue
            data = parsed[index]
            try:
                with transaction.atomic():
                    if row is None:
                        self.create(data)
                        result.created += 1
                        continue
                    changes = self.changes(row, data)
                    if not changes:
                        result.unchanged += 1
                        continue
                    self.update(row, changes, by=by)
                    result.updated += 1
            except ValidationError as exc:
                errors.add_django(index, exc)
        return result


@transaction.atomic
def _upsert(
    spec: UpsertSpec[RowT],
    *,
    items: list,
    by: Any = None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update a batch of records by `spec`, all or nothing (see the module)."""
    check_batch_size(items, limit)
    errors = ItemErrors()
    parsed = [
        parse_item(i, raw, spec.fields, errors, aliases=spec.aliases, strict=strict)
        for i, raw in enumerate(items)
    ]
    for index, data in enumerate(parsed):
        spec.require(index, data, errors)
    keys = [spec.key(data) for data in parsed]
    mark_duplicates(keys, spec.key_field, errors)
    mark_duplicates([data.get("external_id") for data in parsed], "external_id", errors)
    spec.load(parsed, keys)
    rows: dict[int, RowT | None] = {}
    for index, (data, key) in enumerate(zip(parsed, keys, strict=True)):
        if spec.skip_failed and index in errors:
            continue
        if not spec.resolve(index, data, errors):
            continue
        row = _match(index, data, spec, key=key, errors=errors)
        if spec.skip_failed and index in errors:
            continue
        if row is not None and create_only:
            errors.add(index, spec.key_field, spec.exists_message)
            continue
        if row is None:
            spec.check_new(index, data, errors)
        rows[index] = row
    spec.check_batch(parsed, errors)
    result = spec.write(parsed, rows, by=by, errors=errors)
    if errors:
        raise UpsertInvalid(errors)
    return result


def _match(
    index: int, data: dict[str, Any], spec: UpsertSpec[RowT], *, key: Any, errors: ItemErrors
) -> RowT | None:
    """The existing row an item updates: by external_id first, else by natural key."""
    external = data.get("external_id")
    if external is not None and external in spec.by_external:
        found = spec.by_external[external]
        if found is not None and key is not None and spec.key_of(found) != key:
            errors.add(
                index,
                spec.key_field,
                f"The record with external_id {external!r} has {spec.key_field} "
                f"{spec.key_of(found)!r}; it cannot be changed by a sync.",
            )
        return found
    row = spec.by_key.get(key)
    if row is not None and external is not None:
        current = row.serializable_value("external_id")
        if current not in (None, external):
            errors.add(index, "external_id", f"{key} already has external_id {current!r}.")
    return row
