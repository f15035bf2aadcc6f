"""Owners, accounts and contacts: the records marketing ops and the CRM push in."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from mqaflow.models import Account, Contact, Owner, normalise_domain


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
def owner_update(*, owner: Owner, by=None, **changes) -> Owner:
    """Apply changes; a manager change is checked against cycles before it is saved.
    Deactivating the owner moves their open plays on (the plays app listens)."""
    locked = Owner.objects.select_for_update().get(pk=owner.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    return locked


def account_create(**fields) -> Account:
    fields["domain"] = normalise_domain(fields.get("domain", ""))
    account = Account(**fields)
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, by=None, **changes) -> Account:
    """Update an account; excluding or re-funnelling it asks for a re-evaluation, and an
    owner change moves the account's open play to the new owner (the plays app listens)."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    cause = account_change_cause(locked, changes)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    if cause:
        from mqaflow.qualification.scheduling import recompute_request

        recompute_request(account_ids=[locked.pk], cause=cause)
    return locked


def account_change_cause(account: Account, changes: dict) -> str:
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


def contact_create(**fields) -> Contact:
    fields["email"] = (fields.get("email") or "").strip().lower()
    contact = Contact(**fields)
    contact.full_clean()
    contact.save()
    return contact


# --- Upserts: the nightly sync -------------------------------------------------------------
#
# A batch is matched row by row on the CRM id (`external_id`) when given, else on the
# natural key (owner email, account domain, contact account + email); a match is updated
# only if something differs, everything else is created. The whole batch is validated and
# written in one transaction: one bad item and nothing is stored, the error names every bad
# item and field. Updates go through owner_update / account_update, so deactivations, owner
# changes and exclusions have the same consequences (plays move, accounts are recomputed)
# as a single edit.


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class UpsertInvalid(Exception):
    """One or more items are invalid; errors maps the item's index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = dict(sorted(errors.items()))


class _Errors(dict):
    def add(self, index: int, field: str, message: str) -> None:
        self.setdefault(index, {}).setdefault(field, []).append(message)

    def add_django(self, index: int, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add(index, "non_field_errors" if field == "__all__" else field, message)
        else:
            for message in exc.messages:
                self.add(index, "non_field_errors", message)


TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationError("Must be true or false.")


def _int(value) -> int:
    if isinstance(value, bool):
        raise ValidationError("A whole number is required.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError("A whole number is required.") from None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ValidationError("Must be a string.")
    text = str(value)
    if "\x00" in text:
        raise ValidationError("Must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode text.") from None
    return text.strip()


# JSON type each field must have in a JSON request (files give strings and are coerced).
_JSON_TYPES = {"is_active": bool, "excluded": bool, "funnel": int, "employees": int}


_NULLABLE = {"manager", "delegate", "owner", "external_id"}


def _json_type_problem(field: str, value) -> str | None:
    if value is None:
        return None if field in _NULLABLE else "May not be null."
    wanted = _JSON_TYPES.get(field, str)
    if wanted is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "Must be an integer."
    if wanted is bool and not isinstance(value, bool):
        return "Must be a boolean."
    if wanted is str and not isinstance(value, str):
        return "Must be a string."
    return None


def _email(value) -> str:
    email = _text(value).lower()
    validate_email(email)
    return email


def _external_id(value) -> str | None:
    return _text(value) or None


def _parse(
    index: int,
    raw,
    spec: dict,
    errors: _Errors,
    aliases: dict | None = None,
    strict: bool = False,
) -> dict:
    """Turn one raw item into {field: python value} by `spec` ({field: parser}); unknown
    fields are errors (a typo in a sync must not silently drop a column). `strict`: a JSON
    request, where a value of the wrong JSON type is an error rather than coerced."""
    if not isinstance(raw, dict):
        errors.add(index, "non_field_errors", "Each item must be an object.")
        return {}
    data = {}
    for key, value in raw.items():
        field = (aliases or {}).get(key, key)
        if field not in spec:
            errors.add(index, key, "Unknown field.")
            continue
        problem = _json_type_problem(field, value) if strict else None
        if problem:
            errors.add(index, key, problem)
            continue
        try:
            data[field] = spec[field](value)
        except ValidationError as exc:
            for message in exc.messages:
                errors.add(index, key, message)
    return data


def _check_batch(items: list, limit: int | None) -> None:
    """At least one item and at most `limit` (0: MQAFLOW_UPSERT_BATCH_MAX; None: any, for
    files)."""
    if limit == 0:
        limit = settings.MQAFLOW_UPSERT_BATCH_MAX
    if not isinstance(items, list) or not items:
        raise UpsertInvalid({0: {"non_field_errors": ["Send a list of at least one item."]}})
    if limit is not None and len(items) > limit:
        raise UpsertInvalid(
            {0: {"non_field_errors": [f"At most {limit} items per request; got {len(items)}."]}}
        )


def _duplicates(keys: list, field: str, errors: _Errors) -> None:
    first: dict = {}
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            errors.add(index, field, f"Appears twice in this batch (also item {first[key]}).")
        else:
            first[key] = index


def _match(
    index: int,
    data: dict,
    *,
    by_external: dict,
    by_key: dict,
    key,
    key_field: str,
    key_of,
    errors: _Errors,
):
    """The existing row an item updates: by external_id first, else by natural key."""
    external = data.get("external_id")
    if external is not None and external in by_external:
        row = by_external[external]
        if key is not None and key_of(row) != key:
            errors.add(
                index,
                key_field,
                f"The record with external_id {external!r} has {key_field} "
                f"{key_of(row)!r}; it cannot be changed by a sync.",
            )
        return row
    row = by_key.get(key)
    if row is not None and external is not None and row.external_id not in (None, external):
        errors.add(
            index,
            "external_id",
            f"{key} already has external_id {row.external_id!r}.",
        )
    return row


def _changes(row, data: dict) -> dict:
    return {name: value for name, value in data.items() if getattr(row, name) != value}


# An owner's email is also their login (the user's username: 150 characters at most).
OWNER_EMAIL_MAX_LENGTH = 150


def _owner_email(value) -> str:
    email = _email(value)
    if len(email) > OWNER_EMAIL_MAX_LENGTH:
        raise ValidationError(
            f"Ensure this field has no more than {OWNER_EMAIL_MAX_LENGTH} characters."
        )
    return email


OWNER_FIELDS = {
    "email": _owner_email,
    "name": _text,
    "title": _text,
    "manager": lambda v: _email(v) if v not in (None, "") else None,
    "delegate": lambda v: _email(v) if v not in (None, "") else None,
    "is_active": _bool,
    "external_id": _external_id,
}


def _owner_cycles(final_manager: dict[str, str | None]) -> list[list[str]]:
    """Every cycle in the final manager graph (emails), each once."""
    cycles, done = [], set()
    for start in final_manager:
        path, seen = [], {}
        node = start
        while node is not None and node not in done and node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = final_manager.get(node)
        if node is not None and node in seen:
            cycles.append(path[seen[node] :])
        done.update(path)
    return cycles


@transaction.atomic
def owners_upsert(
    *,
    items: list,
    by=None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update owners; managers and delegates may be owners of the same batch, in
    any order. A batch whose managers would form a cycle is refused, naming its items."""
    _check_batch(items, limit)
    errors = _Errors()
    parsed = [
        _parse(i, raw, OWNER_FIELDS, errors, aliases={"active": "is_active"}, strict=strict)
        for i, raw in enumerate(items)
    ]
    emails = [d.get("email") for d in parsed]
    for index, data in enumerate(parsed):
        if "email" not in data and index not in errors:
            errors.add(index, "email", "This field is required.")
    _duplicates(emails, "email", errors)
    _duplicates([d.get("external_id") for d in parsed], "external_id", errors)
    everyone = {o.email: o for o in Owner.objects.select_related("manager", "delegate")}
    by_external = {o.external_id: o for o in everyone.values() if o.external_id}
    rows = []
    for index, data in enumerate(parsed):
        row = _match(
            index,
            data,
            by_external=by_external,
            by_key=everyone,
            key=data.get("email"),
            key_field="email",
            key_of=lambda o: o.email,
            errors=errors,
        )
        if row is not None and create_only:
            errors.add(index, "email", "An owner with this email already exists.")
        if row is None and not data.get("name") and "email" in data:
            errors.add(index, "name", "This field is required for a new owner.")
        rows.append(row)
    known = set(everyone) | {e for e in emails if e}
    for index, data in enumerate(parsed):
        for field in ("manager", "delegate"):
            ref = data.get(field)
            if ref is not None and ref not in known:
                errors.add(index, field, f"No owner {ref} in the directory or this batch.")
            if ref is not None and ref == data.get("email"):
                errors.add(index, field, f"An owner cannot be their own {field}.")
    if errors:
        raise UpsertInvalid(errors)

    # Cycles in the org as it would be after the batch.
    final = {email: (o.manager.email if o.manager_id else None) for email, o in everyone.items()}
    for data in parsed:
        if "manager" in data:
            final[data["email"]] = data["manager"]
        else:
            final.setdefault(data["email"], None)
    index_of = {data["email"]: i for i, data in enumerate(parsed)}
    for cycle in _owner_cycles(final):
        members = [index_of[e] for e in cycle if e in index_of]
        loop = " → ".join([*cycle, cycle[0]])
        names = ", ".join(str(i) for i in sorted(members))
        for index in members:
            errors.add(index, "manager", f"Managers would form a cycle: {loop} (items {names}).")
    if errors:
        raise UpsertInvalid(errors)

    result = UpsertResult()
    # 1. New owners, without links (their managers may not exist yet).
    for index, (data, row) in enumerate(zip(parsed, rows, strict=True)):
        if row is not None:
            continue
        fields = {k: v for k, v in data.items() if k not in ("manager", "delegate")}
        try:
            with transaction.atomic():
                rows[index] = everyone[data["email"]] = _owner_new(**fields)
        except ValidationError as exc:
            errors.add_django(index, exc)
    if errors:
        raise UpsertInvalid(errors)
    # 2. Drop the manager links that change, so no intermediate state is a cycle: every
    #    state from here on is part of the final, acyclic org.
    moving = [
        row.pk
        for data, row in zip(parsed, rows, strict=True)
        if "manager" in data
        and row.manager_id != (everyone[data["manager"]].pk if data["manager"] else None)
    ]
    Owner.objects.filter(pk__in=moving).update(manager=None)
    # 3. Every item's values, links resolved.
    for index, (data, row) in enumerate(zip(parsed, rows, strict=True)):
        values = {}
        for name, value in data.items():
            if name in ("manager", "delegate"):
                values[name] = everyone[value] if value else None
            else:
                values[name] = value
        new = getattr(row, "_upsert_new", False)
        changes = _changes(row, values)
        if not changes:
            if new:
                result.created += 1
            else:
                result.unchanged += 1
            continue
        try:
            with transaction.atomic():
                owner_update(owner=row, by=by, **changes)
        except ValidationError as exc:
            errors.add_django(index, exc)
            continue
        if new:
            result.created += 1
        else:
            result.updated += 1
    if errors:
        raise UpsertInvalid(errors)
    return result


def _owner_new(*, email: str, name: str = "", external_id=None, **fields) -> Owner:
    owner = owner_create(email=email, name=name, **fields)
    if external_id:
        owner.external_id = external_id
        owner.save(update_fields=["external_id"])
    owner._upsert_new = True
    return owner


def _owner_ref(value) -> str | None:
    return _email(value) if value not in (None, "") else None


ACCOUNT_FIELDS = {
    "domain": lambda v: normalise_domain(_text(v)),
    "name": _text,
    "funnel": lambda v: _int(v),
    "employees": lambda v: _int(v),
    "industry": _text,
    "owner": _owner_ref,
    "excluded": _bool,
    "excluded_reason": _text,
    "external_id": _external_id,
}


@transaction.atomic
def accounts_upsert(
    *,
    items: list,
    by=None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update accounts by external_id or domain; owners are given by email."""
    _check_batch(items, limit)
    errors = _Errors()
    parsed = [_parse(i, raw, ACCOUNT_FIELDS, errors, strict=strict) for i, raw in enumerate(items)]
    for index, data in enumerate(parsed):
        domain = data.get("domain")
        if not domain and index not in errors:
            errors.add(index, "domain", "This field is required.")
        elif domain and ("." not in domain or " " in domain):
            errors.add(index, "domain", "Enter a domain such as acme.com.")
    domains = [d.get("domain") for d in parsed]
    externals = [d.get("external_id") for d in parsed]
    _duplicates(domains, "domain", errors)
    _duplicates(externals, "external_id", errors)
    owners = {
        o.email: o
        for o in Owner.objects.filter(email__in={d["owner"] for d in parsed if d.get("owner")})
    }
    by_key = Account.objects.in_bulk([d for d in domains if d], field_name="domain")
    by_external: dict = {}
    for account in Account.objects.filter(external_id__in=[e for e in externals if e]):
        if account.external_id in by_external:
            by_external[account.external_id] = None  # ambiguous
        else:
            by_external[account.external_id] = account
    result = UpsertResult()
    for index, data in enumerate(parsed):
        if index in errors:
            continue
        if data.get("external_id") and by_external.get(data["external_id"], 0) is None:
            errors.add(index, "external_id", "Several accounts have this external_id.")
            continue
        if data.get("owner"):
            if data["owner"] not in owners:
                errors.add(index, "owner", f"No owner {data['owner']}.")
                continue
            data["owner"] = owners[data["owner"]]
        row = _match(
            index,
            data,
            by_external=by_external,
            by_key=by_key,
            key=data.get("domain"),
            key_field="domain",
            key_of=lambda a: a.domain,
            errors=errors,
        )
        if index in errors:
            continue
        if row is not None and create_only:
            errors.add(index, "domain", "An account with this domain already exists.")
            continue
        try:
            with transaction.atomic():
                if row is None:
                    if not data.get("name"):
                        raise ValidationError({"name": "This field is required."})
                    account_create(**data)
                    result.created += 1
                    continue
                if "excluded" in data and not data["excluded"]:
                    data.setdefault("excluded_reason", "")
                changes = _changes(row, data)
                if not changes:
                    result.unchanged += 1
                    continue
                account_update(account=row, by=by, **changes)
                result.updated += 1
        except ValidationError as exc:
            errors.add_django(index, exc)
    if errors:
        raise UpsertInvalid(errors)
    return result


CONTACT_FIELDS = {
    "account": lambda v: normalise_domain(_text(v)),
    "email": _email,
    "name": _text,
    "title": _text,
    "persona": _text,
    "seniority": _text,
    "external_id": _external_id,
}


@transaction.atomic
def contacts_upsert(
    *,
    items: list,
    by=None,
    create_only: bool = False,
    limit: int | None = 0,
    strict: bool = False,
) -> UpsertResult:
    """Create or update contacts by external_id or (account domain, email)."""
    _check_batch(items, limit)
    errors = _Errors()
    parsed = [_parse(i, raw, CONTACT_FIELDS, errors, strict=strict) for i, raw in enumerate(items)]
    for index, data in enumerate(parsed):
        for field in ("account", "email"):
            if not data.get(field) and field not in errors.get(index, {}):
                errors.add(index, field, "This field is required.")
    keys = [
        (d["account"], d["email"]) if d.get("account") and d.get("email") else None for d in parsed
    ]
    _duplicates(keys, "email", errors)
    _duplicates([d.get("external_id") for d in parsed], "external_id", errors)
    accounts = Account.objects.in_bulk({k[0] for k in keys if k}, field_name="domain")
    existing = {
        (c.account.domain, c.email): c
        for c in Contact.objects.select_related("account").filter(
            account__domain__in=list(accounts), email__in={k[1] for k in keys if k}
        )
    }
    by_external = {
        c.external_id: c
        for c in Contact.objects.select_related("account").filter(
            external_id__in=[d["external_id"] for d in parsed if d.get("external_id")]
        )
    }
    result = UpsertResult()
    for index, (data, key) in enumerate(zip(parsed, keys, strict=True)):
        if index in errors:
            continue
        if key[0] not in accounts:
            errors.add(index, "account", f"No account {key[0]}.")
            continue
        row = _match(
            index,
            data,
            by_external=by_external,
            by_key=existing,
            key=key,
            key_field="email",
            key_of=lambda c: (c.account.domain, c.email),
            errors=errors,
        )
        if index in errors:
            continue
        if row is not None and create_only:
            errors.add(index, "email", "A contact with this email already exists at this account.")
            continue
        data["account"] = accounts[key[0]]
        try:
            with transaction.atomic():
                if row is None:
                    contact_create(**data)
                    result.created += 1
                    continue
                changes = _changes(row, data)
                if not changes:
                    result.unchanged += 1
                    continue
                for name, value in changes.items():
                    setattr(row, name, value)
                row.full_clean()
                row.save()
                result.updated += 1
        except ValidationError as exc:
            errors.add_django(index, exc)
    if errors:
        raise UpsertInvalid(errors)
    return result
