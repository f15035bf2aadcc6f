"""API tokens stored as SHA-256 digests: the key is shown once and never readable again
(mqaflow/tokens.py issues and rotates them).

A token may be limited to scopes (what an integration needs and nothing more) and may expire.
A token without scopes acts with its user's own rights, as tokens always did; an integration
token without scopes keeps the rights it was issued with (ingest and directory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone

# scope → what it opens
SCOPES = {
    "ingest": "push engagement events",
    "directory": "read and write owners, accounts, contacts and opportunities (and read MQAs)",
    "plays:read": "read plays the token's user may see",
    "plays:write": "start, complete, dismiss, reassign and reopen plays as the token's user",
}
LEGACY_INTEGRATION_SCOPES = ("ingest", "directory")


def parse_scopes(value: str | Iterable[str] | None) -> list[str]:
    """Scopes from a JSON list or a comma-separated string, de-duplicated in a stable order;
    an unknown scope is a ValueError naming it (and the valid ones)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    scopes: list[str] = []
    for item in items:
        scope = str(item).strip().lower()
        if not scope:
            continue
        if scope not in SCOPES:
            raise ValueError(f"Unknown scope {scope!r}; one of: {', '.join(SCOPES)}.")
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=100, help_text="What this token is for, e.g. 'HubSpot sync'."
    )
    prefix = models.CharField(
        max_length=8, editable=False, help_text="First characters, to tell tokens apart."
    )
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    is_integration = models.BooleanField(
        "integration token",
        default=False,
        help_text="Issued by an admin for a system (CRM sync, marketing automation), not a "
        "person: may write owners, accounts, contacts and events.",
    )
    scopes = models.JSONField(
        default=list,
        blank=True,
        help_text="Empty: the user's own rights (an integration token: ingest and directory). "
        "Otherwise only these: " + ", ".join(SCOPES) + ".",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this the token is refused (empty: never)."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def set_key(self, key: str) -> None:
        self.prefix = key[:8]
        self.key_digest = digest(key)

    def effective_scopes(self) -> list[str] | None:
        """The scopes this token is limited to; None means "its user's own rights"."""
        if self.scopes:
            return parse_scopes(self.scopes)
        if self.is_integration:
            return list(LEGACY_INTEGRATION_SCOPES)
        return None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
