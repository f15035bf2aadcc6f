"""What the OpenAPI schema must say that the views alone cannot tell drf-spectacular.

It lives with the project's wiring because it describes the whole API, the plays' actions
and reasons included: the domain app (mqaflow) never imports plays.

- Every operation lists the errors it can answer, all in the one error shape
  (mqaflow.api.errors): 400 for a bad parameter or body, 401 without valid credentials,
  403 when the action is not yours (or a session's CSRF check fails on a write), 404 for a
  path naming nothing, 409 for a play transition its status does not allow, 413/415 for a
  body too large or not JSON, 414 for an over-long URL and 429 when throttled.
- POST /api/v1/events/ takes one event or a list of 1..MQAFLOW_EVENT_BATCH_MAX, and
  POST /api/v1/opportunities/ one opportunity or a list of 1..MQAFLOW_UPSERT_BATCH_MAX.
- A dismiss `reason` is one of the active reasons, read when the schema is generated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API. Field errors are also repeated at the top level "
    "(e.g. `email`), as the API answered before `errors` existed.",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "code": {
            "type": "string",
            "description": "A stable token for programs, e.g. invalid, not_found, throttled.",
        },
        "errors": {
            "type": "object",
            "description": "Messages by field (`non_field_errors` for the whole body); for an "
            "event batch by item index, then by field. Empty when no field is at fault.",
            "additionalProperties": True,
        },
    },
    "required": ["detail", "code", "errors"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid parameter or body; `errors` names each field.",
    "401": "No valid credentials (missing, wrong or revoked token).",
    "403": "Not allowed to do this (or, with a session, the CSRF check failed).",
    "404": "No such object (or not one you may see).",
    "409": (
        "The play changed meanwhile (reassigned, dismissed, withdrawn, started): the detail "
        "says what happened, who did it and when."
    ),
    "413": "Request body larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
    "414": "URL longer than 4000 characters.",
    "415": "The body is not JSON.",
    "429": "Throttled; retry after the Retry-After header's seconds.",
}
PLAY_ACTION_PREFIX = "/api/v1/plays/{id}/"


def _error_codes(path: str, method: str, operation: dict) -> list[str]:
    codes = ["400", "401", "414", "429"]
    writes = method in {"post", "put", "patch", "delete"}
    if writes:
        codes.append("403")
    if "{" in path:
        codes.append("404")
    if path.startswith(PLAY_ACTION_PREFIX) and path != PLAY_ACTION_PREFIX:
        codes.append("409")  # every play action is a transition its status may not allow
    if writes:
        codes += ["413", "415"]
    return sorted(codes)


def _active_dismiss_reasons() -> list[str] | None:
    from plays.models import DismissReason

    try:
        return sorted(DismissReason.objects.filter(is_active=True).values_list("slug", flat=True))
    except DatabaseError:  # generating the schema offline, without a database
        return None


def postprocess(result: dict, generator, request, public) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry: see the module docstring."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code in _error_codes(path, method, operation):
                operation["responses"].setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
    events = result.get("paths", {}).get("/api/v1/events/", {}).get("post")
    if events:
        limit = settings.MQAFLOW_EVENT_BATCH_MAX
        for media in events.get("requestBody", {}).get("content", {}).values():
            one = media["schema"]
            media["schema"] = {
                "oneOf": [
                    one,
                    {"type": "array", "items": one, "minItems": 1, "maxItems": limit},
                ],
                "description": f"One event, or a batch of 1 to {limit} (all or nothing).",
            }
    opportunities = result.get("paths", {}).get("/api/v1/opportunities/", {}).get("post")
    if opportunities:
        limit = settings.MQAFLOW_UPSERT_BATCH_MAX
        for media in opportunities.get("requestBody", {}).get("content", {}).values():
            one = media["schema"]
            media["schema"] = {
                "oneOf": [
                    one,
                    {"type": "array", "items": one, "minItems": 1, "maxItems": limit},
                ],
                "description": f"One opportunity, or a batch of 1 to {limit} (all or nothing).",
            }
        request = schemas.get("OpportunityRequest")
        if request is not None:
            request["additionalProperties"] = False  # an unknown field is refused
    reasons = _active_dismiss_reasons()
    dismiss = schemas.get("DismissRequest", {}).get("properties", {}).get("reason")
    if dismiss is not None and reasons is not None:
        dismiss["enum"] = reasons
    return result
