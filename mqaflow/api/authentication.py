"""`Authorization: Token <key>` checked against hashed keys; a revoked token fails at once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from mqaflow.models import ApiToken
from mqaflow.models.tokens import digest

# Writing last_used_at on every request would turn reads into writes; once a minute is plenty.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class HashedTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_digest=digest(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.is_expired(now):
            raise AuthenticationFailed("This token has expired.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
