"""One error shape for the whole API, whoever produced the error.

Every 4xx/5xx under /api/ answers `{"detail": "...", "code": "...", "errors": {...}}`:
`detail` is a sentence for people, `code` a stable token for programs and `errors` the
messages by field (by item index for event batches; `{}` when no field is at fault).
Field errors are also repeated at the top level (`{"email": [...]}`), the shape the API
answered before, so existing clients keep working.

DRF's own exceptions go through `api_exception_handler`. Everything Django answers before
or around DRF (an unmatched URL, a 500, a CSRF failure, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE) is rewritten by `ApiErrorMiddleware`, so a client never has
to parse an HTML error page, and a 500 never shows internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.views import exception_handler

API_PREFIX = "/api/"
# Longer URLs are refused with 414 before routing (gunicorn's own request-line limit is
# 4094 bytes; this one answers first, in JSON, for anything a little shorter).
MAX_URL_LENGTH = 4000

CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource's state does not allow this."
    default_code = "conflict"


def _summary(errors: Mapping) -> str:
    names = ", ".join(str(k) for k in errors)
    return f"Invalid input: {names}." if names else "Invalid input."


def error_body(
    status_code: int,
    *,
    detail: str | None = None,
    code: str | None = None,
    errors: Mapping | None = None,
    mirror_fields: bool = True,
) -> dict:
    """The error shape; `mirror_fields` repeats field errors at the top level (legacy)."""
    errors = dict(errors or {})
    body: dict = {}
    if mirror_fields:
        body.update({k: v for k, v in errors.items() if k not in {"detail", "code", "errors"}})
    body["detail"] = detail or (
        _summary(errors) if errors else HTTPStatus(status_code).phrase + "."
    )
    body["code"] = code or CODES.get(status_code, "error")
    body["errors"] = errors
    return body


def _codes(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc, context):
    """DRF's handler, answering in the one error shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(get_error_detail(exc))
    elif isinstance(exc, RequestDataTooBig):
        from .parsers import PayloadTooLarge

        exc = PayloadTooLarge(
            f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send smaller batches."
        )
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real server error: ApiErrorMiddleware answers it after logging
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, list):
            data = {"non_field_errors": data}
        if isinstance(data, dict) and "errors" in data and len(data) == 1:
            body = error_body(response.status_code, errors=data["errors"], mirror_fields=False)
        else:
            body = error_body(response.status_code, errors=data)
    else:
        detail = data.get("detail") if isinstance(data, dict) else None
        body = error_body(response.status_code, detail=str(detail) if detail else None)
        if isinstance(exc, exceptions.APIException):
            body["code"] = _codes(exc)
    response.data = body
    return response


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


class ApiErrorMiddleware:
    """Under /api/: refuse over-long URLs, and turn any non-JSON error into the error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if len(request.get_full_path()) > MAX_URL_LENGTH:
            return JsonResponse(
                error_body(414, detail=f"The URL is longer than {MAX_URL_LENGTH} characters."),
                status=414,
            )
        response = self.get_response(request)
        if response.status_code < 400 or _is_json(response):
            return response
        code = response.status_code
        detail = None
        if code == 404:
            detail = "No API endpoint or object at this URL."
        elif code >= 500:
            detail = "Server error; it has been logged."
        rewritten = JsonResponse(error_body(code, detail=detail), status=code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten
