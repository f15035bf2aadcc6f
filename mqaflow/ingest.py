"""Ingesting engagement events: validate a whole batch, then store it in one transaction.

Used by the events API and `import_csv events`. A batch is all-or-nothing: every error of
every item is collected (by item index and field) before anything is written, so a client
can fix its batch in one round trip and a half-stored batch never exists.
References (accounts, activities, contacts) are resolved with one query each per batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from mqaflow.directory.parsing import to_past_moment
from mqaflow.models import (
    Account,
    ActivityType,
    Contact,
    EngagementEvent,
    RuleSet,
    SeniorityMultiplier,
)
from mqaflow.models.columns import column_of
from mqaflow.models.rulesets import rule_set_still_live
from mqaflow.validation import domain_problem, text_problem

FIELDS = ("id", "account", "contact", "activity", "occurred_at", "minutes", "source")
MAX_ID_LENGTH = 200
MAX_MINUTES = Decimal("99999999.99")
# Minutes given as text (CSV files, some JSON clients): plain decimal notation only.
MINUTES_PATTERN = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
MINUTES_TEXT = re.compile(MINUTES_PATTERN)
# The earliest occurred_at accepted. Engagement before the Unix epoch is a client bug, and a
# stored BC date (year 0001 in a +14:00 zone) breaks every page that formats it.


class BatchInvalid(Exception):
    """Raised with every error of a batch: {item index: {field: [messages]}}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    account_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Parsed:
    external_id: str
    domain: str
    email: str | None
    activity: str
    occurred_at: datetime
    minutes: Decimal | None
    source: str


def _text(
    value: object,
    name: str,
    errors: dict[str, list[str]],
    *,
    required: bool = True,
    max_length: int = 200,
) -> str | None:
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append("This field is required.")
        return None
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be a string.")
        return None
    problem = text_problem(value)
    if problem:
        errors.setdefault(name, []).append(problem)
        return None
    value = value.strip()
    if not value:
        if required:
            errors.setdefault(name, []).append("Must not be blank.")
        return None
    if len(value) > max_length:
        errors.setdefault(name, []).append(f"At most {max_length} characters.")
        return None
    return value


def _parse_item(item: object, now: datetime) -> tuple[_Parsed | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(item, Mapping):
        return None, {"non_field_errors": ["Each event must be a JSON object."]}
    unknown = set(item) - set(FIELDS)
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."]
    raw_id = item.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    external_id = _text(raw_id, "id", errors, max_length=MAX_ID_LENGTH)
    domain = _text(item.get("account"), "account", errors, max_length=253)
    if domain is not None and (problem := domain_problem(domain)):
        errors["account"] = [problem]
    email = _text(item.get("contact"), "contact", errors, required=False, max_length=254)
    activity = _text(item.get("activity"), "activity", errors, max_length=50)
    source = _text(item.get("source"), "source", errors, required=False, max_length=100) or ""
    occurred_at = None
    raw_time = item.get("occurred_at")
    if raw_time in (None, ""):
        errors["occurred_at"] = ["This field is required."]
    else:
        try:
            occurred_at = to_past_moment(raw_time, now=now)
        except ValidationError as error:
            errors["occurred_at"] = error.messages
    minutes = None
    raw_minutes = item.get("minutes")
    if raw_minutes is not None:
        if isinstance(raw_minutes, bool) or not isinstance(raw_minutes, int | float | str):
            errors["minutes"] = ["Must be a number."]
        else:
            try:
                if isinstance(raw_minutes, str) and not MINUTES_TEXT.fullmatch(raw_minutes):
                    raise InvalidOperation
                minutes = Decimal(str(raw_minutes))
            except InvalidOperation:
                errors["minutes"] = ["Must be a number."]
            else:
                if not minutes.is_finite():
                    errors["minutes"] = ["Must be a finite number."]
                elif minutes < 0:
                    errors["minutes"] = ["Must be zero or more."]
                elif minutes > MAX_MINUTES:
                    errors["minutes"] = [f"Must be at most {MAX_MINUTES}."]
                minutes = minutes.quantize(Decimal("0.01")) if "minutes" not in errors else None
    if errors:
        return None, errors
    # Each of these is set, or its error was recorded above.
    assert external_id and domain and activity and occurred_at
    return _Parsed(
        external_id=external_id,
        domain=domain.lower().strip("."),
        email=email.lower() if email else None,
        activity=activity,
        occurred_at=occurred_at,
        minutes=minutes,
        source=source,
    ), {}


def _check_duplicate_ids(parsed: dict[int, _Parsed], errors: dict) -> None:
    """The same id twice in one batch with different content: which should win? Name every
    index that has it. (Identical repeats stay what they always were: one stored, the rest
    counted as duplicates, as a retried batch would be.)"""
    seen: dict[str, list[int]] = {}
    for index, p in parsed.items():
        seen.setdefault(p.external_id, []).append(index)
    for indexes in seen.values():
        if len({parsed[i] for i in indexes}) < 2:
            continue
        for index in indexes:
            others = ", ".join(str(i) for i in indexes if i != index)
            errors.setdefault(index, {})["id"] = [
                f"The same id with different content is also at index {others}."
            ]
        for index in indexes:
            parsed.pop(index)


def credited_minutes(activity_minutes: Decimal, multiplier: Decimal | None) -> Decimal:
    """The weight an event is credited when the source gives none: activity × seniority,
    rounded half up to the cent as SQL's ROUND does (a draft's weights are measured in SQL,
    and must credit exactly what promoting them will)."""
    product = activity_minutes * (multiplier if multiplier is not None else Decimal(1))
    return product.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def events_ingest(*, items: Iterable[object], now: datetime | None = None) -> IngestResult:
    """Validate and store a batch of events; raise BatchInvalid with every error, or store all."""
    now = now or timezone.now()
    items = list(items)
    errors: dict[int, dict[str, list[str]]] = {}
    parsed: dict[int, _Parsed] = {}
    for index, item in enumerate(items):
        ok, item_errors = _parse_item(item, now)
        if ok is None:
            errors[index] = item_errors
        else:
            parsed[index] = ok
    _check_duplicate_ids(parsed, errors)

    domains = {p.domain for p in parsed.values()}
    accounts = {a.domain: a.pk for a in Account.objects.filter(domain__in=domains).only("domain")}
    keys = {p.activity for p in parsed.values()}
    activities = {a.key: a for a in ActivityType.objects.filter(key__in=keys)}
    emails = {p.email for p in parsed.values() if p.email}
    contacts = {
        (c["account_id"], c["email"]): (c["pk"], c["seniority"])
        for c in Contact.objects.filter(account_id__in=accounts.values(), email__in=emails).values(
            "pk", "account_id", "email", "seniority"
        )
    }

    rows: list[EngagementEvent] = []
    # Events credited from the weights (no minutes given): (row, activity, seniority); their
    # minutes are set under the live rule set's lock, in the transaction that stores them.
    to_credit: list[tuple[EngagementEvent, int, str | None]] = []
    for index, p in parsed.items():
        problems: dict[str, list[str]] = {}
        account_id = accounts.get(p.domain)
        if account_id is None:
            problems["account"] = [f"No account with domain {p.domain!r}."]
        activity = activities.get(p.activity)
        if activity is None:
            problems["activity"] = [f"No activity type with key {p.activity!r}."]
        contact = None
        if p.email and account_id is not None:
            contact = contacts.get((account_id, p.email))
            if contact is None:
                problems["contact"] = [f"No contact {p.email!r} at {p.domain}."]
        if problems or account_id is None or activity is None:
            errors[index] = problems
            continue
        row = EngagementEvent(
            external_id=p.external_id,
            account_id=account_id,
            contact_id=contact[0] if contact else None,
            activity_id=activity.pk,
            occurred_at=p.occurred_at,
            minutes=p.minutes if p.minutes is not None else Decimal(0),  # credited at store
            minutes_explicit=p.minutes is not None,
            source=p.source,
            ingested_at=now,
        )
        rows.append(row)
        if p.minutes is None:
            to_credit.append((row, activity.pk, contact[1] if contact else None))
    if errors:
        raise BatchInvalid(dict(sorted(errors.items())))
    return _store(rows, now=now, to_credit=to_credit)


def _credit(to_credit: list[tuple[EngagementEvent, int, str | None]]) -> None:
    """Set the minutes of the events the source gave none, from the weights in force.

    Called holding a share lock on the live rule set's row: a promotion (which locks it for
    update, then re-credits stored events with the new set's weights) cannot slip between
    reading the weights here and storing the events."""
    if not to_credit:
        return
    rule_set_still_live(RuleSet.objects.live().pk)  # the lock; the answer is not needed
    activities = dict(
        ActivityType.objects.filter(pk__in={pk for _, pk, _ in to_credit}).values_list(
            "pk", "minutes"
        )
    )
    multipliers = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
    for row, activity_pk, seniority in to_credit:
        row.minutes = credited_minutes(
            activities[activity_pk], multipliers.get(seniority) if seniority else None
        )


def _store(
    rows: list[EngagementEvent],
    *,
    now: datetime,
    to_credit: list[tuple[EngagementEvent, int, str | None]] | None = None,
) -> IngestResult:
    """Insert the new events and mark their accounts, safe against concurrent batches.

    Overlapping batches posted at once must neither deadlock nor miscount, so every lock is
    taken in one global order: the accounts' key-share locks in id order (the same order a
    recompute locks them in), then the events in external-id order with ON CONFLICT DO
    NOTHING, then the accounts' update locks in id order. `created` counts the rows this
    transaction really inserted (RETURNING), not rows a concurrent batch inserted meanwhile.
    """
    from mqaflow.qualification.scheduling import recompute_request

    unique: dict[str, EngagementEvent] = {}
    for row in rows:
        unique.setdefault(row.external_id, row)
    with transaction.atomic():
        _credit(to_credit or [])
        existing = set(
            EngagementEvent.objects.filter(external_id__in=unique).values_list(
                "external_id", flat=True
            )
        )
        fresh = sorted(
            (row for key, row in unique.items() if key not in existing),
            key=lambda row: row.external_id,
        )
        stored = _insert_new(fresh, account_ids=sorted({row.account_id for row in fresh}))
        touched = sorted({row.account_id for row in stored})
        if touched:
            list(
                Account.objects.select_for_update(no_key=True)
                .filter(pk__in=touched)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            Account.objects.filter(pk__in=touched).update(last_event_ingested_at=now)
            recompute_request(account_ids=touched)
    return IngestResult(
        created=len(stored), duplicates=len(rows) - len(stored), account_ids=set(touched)
    )


INSERT_CHUNK = 1000


def _insert_new(rows: list[EngagementEvent], *, account_ids: list[int]) -> list[EngagementEvent]:
    """Insert `rows` (sorted by external id), skipping ids that exist; return those inserted."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        # SQLite (development) runs one write transaction at a time (IMMEDIATE), so the
        # existence check before this insert is exact.
        EngagementEvent.objects.bulk_create(rows, batch_size=INSERT_CHUNK, ignore_conflicts=True)
        return rows
    meta = EngagementEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    key = quote(column_of(EngagementEvent, "external_id"))
    columns = ", ".join(quote(column_of(EngagementEvent, f.name)) for f in fields)
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted: set[str] = set()
    with connection.cursor() as cursor:
        # The foreign-key checks of the insert take key-share locks on the accounts in event
        # order; taking them first, in id order, keeps a concurrent recompute (which locks
        # the accounts FOR UPDATE in id order) from deadlocking with this insert.
        account_id = quote(column_of(Account, "id"))
        cursor.execute(
            f"SELECT {account_id} FROM {quote(Account._meta.db_table)} "
            f"WHERE {account_id} = ANY(%s) ORDER BY {account_id} FOR KEY SHARE",
            [account_ids],
        )
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params = [
                f.get_db_prep_save(getattr(row, f.attname), connection)
                for row in chunk
                for f in fields
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}",
                params,
            )
            inserted.update(external_id for (external_id,) in cursor.fetchall())
    return [row for row in rows if row.external_id in inserted]
