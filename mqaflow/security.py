"""Login lockout keyed on the username as the account knows it, not as it was typed."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def login_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """django-axes' username: stripped and lower-cased, so that "Bob@x.com", "BOB@X.COM"
    and " bob@x.com" share one failure count (otherwise each spelling gets its own five
    attempts). Mirrors axes' own lookup: the credentials, else the POSTed form field."""
    # axes sets its default ("username") on the settings when it loads.
    field: str = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    if credentials:
        value = credentials.get(field)
    else:
        value = getattr(request, "data", request.POST).get(field)
    return value.strip().lower() if isinstance(value, str) else value
