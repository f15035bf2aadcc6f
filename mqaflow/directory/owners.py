"""Owners: the sellers accounts and plays belong to, and the manager chain above them."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from mqaflow.models import Owner

from .parsing import (
    ItemErrors,
    UpsertInvalid,
    to_bool,
    to_email,
    to_external_id,
    to_optional_email,
    to_text,
)
from .upserts import UpsertResult, UpsertSpec, _upsert

# An owner's email is also their login (the user's username: 150 characters at most).
OWNER_EMAIL_MAX_LENGTH = 150
# The fields that name other owners of the directory (by email).
LINKS = ("manager", "delegate")


@transaction.atomic
def owner_create(
    *, email: str, name: str, title: str = "", manager: Owner | None = None, is_active: bool = True
) -> Owner:
    """Create an owner and the Django user they log in with (found or created by email).

    A new user gets no usable password: they set one through password reset.
    """
    email = email.strip().lower()
    User = get_user_model()
    user = (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username__iexact=email).first()
    )
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    elif Owner.objects.filter(user=user).exists():
        raise ValidationError({"email": "This user is already linked to another owner."})
    owner = Owner(
        user=user, email=email, name=name, title=title, manager=manager, is_active=is_active
    )
    owner.full_clean()
    owner.save()
    return owner


@transaction.atomic
def owner_update(*, owner: Owner, by: Any = None, **changes: Any) -> Owner:
    """Apply changes; a manager change is checked against cycles before it is saved.
    Deactivating the owner moves their open plays on (the plays app listens)."""
    locked = Owner.objects.select_for_update().get(pk=owner.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    return locked


def owners_upsert(
    *,
    items: list,
    by: Any = None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update owners; managers and delegates may be owners of the same batch, in
    any order. A batch whose managers would form a cycle is refused, naming its items."""
    return _upsert(
        OwnerUpsert(), items=items, by=by, create_only=create_only, limit=limit, strict=strict
    )


def _owner_email(value: Any) -> str:
    email = to_email(value)
    if len(email) > OWNER_EMAIL_MAX_LENGTH:
        raise ValidationError(
            f"Ensure this field has no more than {OWNER_EMAIL_MAX_LENGTH} characters."
        )
    return email


class OwnerUpsert(UpsertSpec[Owner]):
    """Owners by email; their manager and delegate links are resolved across the batch."""

    fields = {
        "email": _owner_email,
        "name": to_text,
        "title": to_text,
        "manager": to_optional_email,
        "delegate": to_optional_email,
        "is_active": to_bool,
        "external_id": to_external_id,
    }
    aliases = {"active": "is_active"}
    key_field = "email"
    exists_message = "An owner with this email already exists."
    skip_failed = False

    def require(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        if "email" not in data and index not in errors:
            errors.add(index, "email", "This field is required.")

    def load(self, parsed: list[dict[str, Any]], keys: list[Hashable | None]) -> None:
        # Everyone: a link may point at any owner, and the cycle check needs the whole org.
        self.by_key = {o.email: o for o in Owner.objects.select_related("manager", "delegate")}
        self.by_external = {o.external_id: o for o in self.by_key.values() if o.external_id}
        self.emails = [data.get("email") for data in parsed]

    def check_new(self, index: int, data: dict[str, Any], errors: ItemErrors) -> None:
        if not data.get("name") and "email" in data:
            errors.add(index, "name", "This field is required for a new owner.")

    def check_batch(self, parsed: list[dict[str, Any]], errors: ItemErrors) -> None:
        known = set(self.by_key) | {e for e in self.emails if e}
        for index, data in enumerate(parsed):
            for field in LINKS:
                ref = data.get(field)
                if ref is not None and ref not in known:
                    errors.add(index, field, f"No owner {ref} in the directory or this batch.")
                if ref is not None and ref == data.get("email"):
                    errors.add(index, field, f"An owner cannot be their own {field}.")
        if errors:
            raise UpsertInvalid(errors)
        # Cycles in the org as it would be after the batch.
        final = {
            email: (o.manager.email if o.manager_id and o.manager else None)
            for email, o in self.by_key.items()
        }
        for data in parsed:
            if "manager" in data:
                final[data["email"]] = data["manager"]
            else:
                final.setdefault(data["email"], None)
        index_of = {data["email"]: i for i, data in enumerate(parsed)}
        for cycle in _cycles(final):
            members = [index_of[e] for e in cycle if e in index_of]
            loop = " → ".join([*cycle, cycle[0]])
            names = ", ".join(str(i) for i in sorted(members))
            for index in members:
                errors.add(
                    index, "manager", f"Managers would form a cycle: {loop} (items {names})."
                )
        if errors:
            raise UpsertInvalid(errors)

    def write(
        self,
        parsed: list[dict[str, Any]],
        rows: dict[int, Owner | None],
        *,
        by: Any,
        errors: ItemErrors,
    ) -> UpsertResult:
        """In three steps, so that links may point at owners of the same batch and no
        intermediate state of the org has a manager cycle."""
        everyone = self.by_key
        result = UpsertResult()
        new: set[int] = set()
        # 1. New owners, without links (their managers may not exist yet).
        for index, data in enumerate(parsed):
            if rows[index] is not None:
                continue
            fields = {k: v for k, v in data.items() if k not in LINKS}
            try:
                with transaction.atomic():
                    rows[index] = everyone[data["email"]] = _owner_new(**fields)
                    new.add(index)
            except ValidationError as exc:
                errors.add_django(index, exc)
        if errors:
            raise UpsertInvalid(errors)
        owners = {index: row for index, row in rows.items() if row is not None}
        # 2. Drop the manager links that change, so no intermediate state is a cycle: every
        #    state from here on is part of the final, acyclic org.
        moving = [
            owners[index].pk
            for index, data in enumerate(parsed)
            if "manager" in data
            and owners[index].manager_id
            != (everyone[data["manager"]].pk if data["manager"] else None)
        ]
        Owner.objects.filter(pk__in=moving).update(manager=None)
        # 3. Every item's values, links resolved.
        for index, data in enumerate(parsed):
            row = owners[index]
            values = {
                name: (everyone[value] if value else None) if name in LINKS else value
                for name, value in data.items()
            }
            changes = self.changes(row, values)
            if changes:
                try:
                    with transaction.atomic():
                        owner_update(owner=row, by=by, **changes)
                except ValidationError as exc:
                    errors.add_django(index, exc)
                    continue
            if index in new:
                result.created += 1
            elif changes:
                result.updated += 1
            else:
                result.unchanged += 1
        return result


def _owner_new(*, email: str, name: str = "", external_id: str | None = None, **fields) -> Owner:
    owner = owner_create(email=email, name=name, **fields)
    if external_id:
        owner.external_id = external_id
        owner.save(update_fields=["external_id"])
    return owner


def _cycles(final_manager: dict[str, str | None]) -> list[list[str]]:
    """Every cycle in the final manager graph (emails), each once."""
    cycles, done = [], set()
    for start in final_manager:
        path: list[str] = []
        seen: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = final_manager.get(node)
        if node is not None and node in seen:
            cycles.append(path[seen[node] :])
        done.update(path)
    return cycles
