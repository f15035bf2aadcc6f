"""Reading a sync's raw items: one parser per field, every problem collected by item.

A sync may come as JSON (typed values, checked strictly) or as a CSV file (strings,
coerced); either way one answer names every bad item and field.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mqaflow.models import normalise_domain
from mqaflow.validation import text_problem

Parser = Callable[[Any], Any]


class UpsertInvalid(Exception):
    """One or more items are invalid; errors maps the item's index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = dict(sorted(errors.items()))


class ItemErrors(dict[int, dict[str, list[str]]]):
    """{item index: {field: [messages]}}, filled in the order problems are found."""

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


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationError("Must be true or false.")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError("A whole number is required.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError("A whole number is required.") from None


def to_text(value: Any) -> str:
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


def to_email(value: Any) -> str:
    email = to_text(value).lower()
    validate_email(email)
    return email


def to_optional_email(value: Any) -> str | None:
    """A reference to an owner by email; empty means none."""
    return to_email(value) if value not in (None, "") else None


def to_domain(value: Any) -> str:
    return normalise_domain(to_text(value))


def to_external_id(value: Any) -> str | None:
    return to_text(value) or None


# JSON type each field must have in a JSON request (files give strings and are coerced).
_JSON_TYPES: dict[str, Any] = {
    "is_active": bool,
    "excluded": bool,
    "funnel": int,
    "employees": int,
    "won": bool,
    "amount": Decimal,  # a JSON number, or its text
}
_NULLABLE = {
    "manager",
    "delegate",
    "owner",
    "external_id",
    # opportunities
    "amount",
    "closed_at",
    "won",
    "stage",
    "currency",
    "source",
}


def _json_type_problem(field: str, value: Any) -> str | None:
    if value is None:
        return None if field in _NULLABLE else "May not be null."
    wanted = _JSON_TYPES.get(field, str)
    if wanted is Decimal:
        ok = isinstance(value, int | float | str) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if wanted is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "Must be an integer."
    if wanted is bool and not isinstance(value, bool):
        return "Must be a boolean."
    if wanted is str and not isinstance(value, str):
        return "Must be a string."
    return None


def parse_item(
    index: int,
    raw: Any,
    spec: dict[str, Parser],
    errors: ItemErrors,
    aliases: dict[str, str] | None = None,
    strict: bool = False,
) -> dict[str, Any]:
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


def check_batch_size(items: Any, limit: int | None) -> None:
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


def mark_duplicates(keys: Sequence[Hashable | None], field: str, errors: ItemErrors) -> None:
    """A key given twice in one batch: which item should win? Name the first one."""
    first: dict[Hashable, int] = {}
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            errors.add(index, field, f"Appears twice in this batch (also item {first[key]}).")
        else:
            first[key] = index


# Engagement and CRM times start with Unix time (older ones are data-entry errors).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def to_moment(value: Any) -> datetime | None:
    """An ISO 8601 time with its UTC offset, stored in UTC; null: none (a CSV file's empty
    cell is not given at all)."""
    if value is None:
        return None
    if not isinstance(value, str) or text_problem(value):
        raise ValidationError("Must be an ISO 8601 string with a UTC offset.")
    try:
        moment = parse_datetime(value.strip())
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationError(f"Not an ISO 8601 datetime: {value[:40]!r}.")
    if timezone.is_naive(moment):
        raise ValidationError("Needs a UTC offset (e.g. 2026-05-01T09:30:00+02:00).")
    try:
        # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59 (Python takes ±23:59).
        moment = moment.astimezone(UTC)
        too_early = moment < EARLIEST
    except OverflowError:  # a year-1 time east of UTC is before year 1 in UTC
        too_early = True
    if too_early:
        raise ValidationError("Must be on or after 1970-01-01T00:00:00Z.")
    return moment


def to_past_moment(value: Any, *, now: datetime | None = None) -> datetime | None:
    """`to_moment`, not after `now` beyond the clock skew a source may have."""
    moment = to_moment(value)
    skew = timedelta(seconds=settings.MQAFLOW_EVENT_FUTURE_SKEW_SECONDS)
    if moment is not None and moment > (now or timezone.now()) + skew:
        raise ValidationError("Is in the future.")
    return moment
