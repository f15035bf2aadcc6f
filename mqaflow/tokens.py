"""API tokens: issuing and rotating them, for the admin and `manage.py api_token` alike.

The plain key exists only in what these return, for the caller to show once; the row keeps
its digest (models/tokens.py), so a key cannot be read back later.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from mqaflow.models import ApiToken
from mqaflow.models.tokens import parse_scopes


def token_issue(
    *,
    user: User,
    name: str,
    scopes: str | Iterable[str] | None = None,
    expires_at: datetime | None = None,
    integration: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with the plain key, which is not stored anywhere.
    An unknown scope is a ValueError (see parse_scopes)."""
    key = secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, is_integration=integration, expires_at=expires_at)
    token.scopes = parse_scopes(scopes)
    token.set_key(key)
    token.save()
    return token, key


@transaction.atomic
def tokens_rotate(
    *,
    user: User,
    name: str,
    scopes: str | Iterable[str] | None = None,
    expires_at: datetime | None = None,
    integration: bool = False,
) -> tuple[ApiToken, str, int]:
    """Issue a new token and revoke the user's other active ones, together: a leaked key
    is replaced in one step. Returns the new token, its key and how many were revoked."""
    old = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    token, key = token_issue(
        user=user, name=name, scopes=scopes, expires_at=expires_at, integration=integration
    )
    for previous in old:
        previous.revoke()
    return token, key, len(old)
