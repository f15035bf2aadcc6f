"""Query parameters: declared once, validated strictly, documented from the same declaration.

A filter the API does not understand must not reach the database as a surprise (a NUL byte
makes PostgreSQL raise, a huge integer overflows), nor be silently ignored (a typo in
`limit` would page with the default). Each view declares its parameters as `QueryParam`s;
`QueryMixin` checks every parameter of the request after authentication (so an anonymous
caller still gets 401) and answers 400 naming the parameter. The OpenAPI parameters are
generated from the same declarations, so the schema says what the server enforces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from mqaflow.validation import text_problem

# Values longer than this are no email, domain or status anyone has.
MAX_PARAM_LENGTH = 254
_DIGITS = re.compile(r"[0-9]{1,20}")
EMPTY = "Must not be empty (leave the parameter out instead)."
# In the schema: a string without NUL characters (PostgreSQL cannot store or compare them).
NO_NUL = "^[^\\u0000]*$"


def parse_int(raw: str, *, minimum: int, maximum: int) -> int:
    """A plain decimal integer within bounds (no sign, spaces or non-ASCII digits)."""
    if not _DIGITS.fullmatch(raw):
        raise ValueError(f"Must be an integer from {minimum} to {maximum}.")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ValueError(f"Must be an integer from {minimum} to {maximum}.")
    return value


@dataclass(frozen=True)
class QueryParam:
    """One query parameter: its type, its limits and how it is documented."""

    name: str
    kind: str = "string"  # string | integer | date | datetime
    description: str = ""
    enum: Sequence | Callable[[], Sequence] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = MAX_PARAM_LENGTH

    def choices(self) -> list | None:
        if self.enum is None:
            return None
        return list(self.enum() if callable(self.enum) else self.enum)

    def parse(self, raw: str) -> int | date | datetime | str:
        """The typed value, or ValueError with the message for the client."""
        if len(raw) > self.max_length:
            raise ValueError(f"At most {self.max_length} characters.")
        value: int | date | datetime | str
        if self.kind == "integer":
            value = parse_int(raw, minimum=self.minimum or 0, maximum=self.maximum or 2**31 - 1)
        elif self.kind == "date":
            value = _parse_date(raw)
        elif self.kind == "datetime":
            value = _parse_datetime(raw)
        else:
            value = raw
        choices = self.choices()
        if choices is not None and value not in choices:
            raise ValueError(f"Must be one of: {', '.join(map(str, choices))}.")
        return value

    def openapi(self) -> OpenApiParameter:
        if self.kind == "integer":
            schema: dict = {"type": "integer", "minimum": self.minimum or 0}
            schema["maximum"] = self.maximum or 2**31 - 1
        elif self.kind == "date":
            schema = {"type": "string", "format": "date"}
        elif self.kind == "datetime":
            schema = {"type": "string", "format": "date-time"}
        else:
            schema = {"type": "string", "maxLength": self.max_length, "pattern": NO_NUL}
        choices = self.choices()
        if choices is not None:
            schema = {"type": schema["type"], "enum": choices}
        return OpenApiParameter(self.name, schema, description=self.description)


def _parse_date(raw: str) -> date:
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValueError("Not a date (YYYY-MM-DD).")
    return value


def _parse_datetime(raw: str) -> datetime:
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValueError("Not an ISO 8601 datetime (e.g. 2026-11-01T00:00:00Z).")
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts.
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("Out of range.") from None


def clean_query(params, declared: Sequence[QueryParam]) -> dict:
    """Validate every query parameter; return the declared ones that were given, typed."""
    errors: dict[str, list[str]] = {}
    for name, values in params.lists():
        for value in [name, *values]:
            problem = text_problem(value)
            if problem:
                errors.setdefault(name, []).append(problem)
                break
    cleaned = {}
    for param in declared:
        raw = params.get(param.name)
        if raw is None or param.name in errors:
            continue
        if raw == "":
            # "?status=" is no filter for free text, but no integer, date or choice either.
            if param.kind != "string" or param.enum is not None:
                errors[param.name] = [EMPTY]
            continue
        try:
            cleaned[param.name] = param.parse(raw)
        except ValueError as exc:
            errors[param.name] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return cleaned


if TYPE_CHECKING:
    # What the mixin extends, for the type checker: it only ever sits before an APIView.
    _ViewBase = APIView
else:
    _ViewBase = object


class QueryMixin(_ViewBase):
    # Validates the query parameters after authentication (limit/offset: the paginator).

    query_params_declared: Sequence[QueryParam] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        declared = self.query_params_declared if self._is_list() else ()
        self.query = clean_query(request.query_params, declared)

    def _is_list(self) -> bool:
        return getattr(self, "action", None) in (None, "list") and self.request.method == "GET"


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    # limit 1..max_limit and offset 0..2**53-1, or 400 naming the parameter.

    max_limit = 1000
    max_offset = 2**53 - 1

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        try:
            return parse_int(raw, minimum=1, maximum=self.max_limit)
        except ValueError:
            raise ValidationError(
                {
                    self.limit_query_param: [
                        f"Must be an integer from 1 to {self.max_limit} (the page size is "
                        f"capped at {self.max_limit})."
                    ]
                }
            ) from None

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        try:
            return parse_int(raw, minimum=0, maximum=self.max_offset)
        except ValueError as exc:
            raise ValidationError({self.offset_query_param: [str(exc)]}) from None

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.limit_query_param:
                param["schema"] |= {"minimum": 1, "maximum": self.max_limit}
                param["description"] = (
                    f"Page size, 1 to {self.max_limit} (default {self.default_limit})."
                )
            elif param["name"] == self.offset_query_param:
                param["schema"] |= {"minimum": 0, "maximum": self.max_offset}
        return params
