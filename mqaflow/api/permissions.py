"""Who may write what through the API.

Plays are worked by the people they belong to (the play services decide). Everything else
an ADR's escalation chain rests on (owners and their managers, account owners and
exclusions, contacts, engagement) is written only by admins (staff, by session or token)
and by integration tokens an admin issued for a system. A person's own session or token,
ADR or manager, reads but never rewrites the org.

On top of that, a token limited to scopes (see mqaflow.models.tokens.SCOPES) reaches only
the endpoints its scopes name: anything else is a 403 naming the scope it lacks. Each API
view says what it needs with `token_scopes = (read_scope, write_scope)`; views that do not
say so get theirs from `VIEW_SCOPES` (by class name) or from their module (plays → plays:*,
the rest of the API → directory). Schema and docs views need no scope.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from mqaflow.models import ApiToken

DIRECTORY = ("directory", "directory")
PLAYS = ("plays:read", "plays:write")
VIEW_SCOPES: dict[str, tuple[str, str] | None] = {
    "OwnerViewSet": DIRECTORY,
    "AccountViewSet": DIRECTORY,
    "ContactViewSet": DIRECTORY,
    "EventsView": ("ingest", "ingest"),
    "OpportunitiesView": DIRECTORY,
    "MQAHistoryView": DIRECTORY,
    "MQAReportView": DIRECTORY,
    "PlayViewSet": PLAYS,
    "SpectacularAPIView": None,
    "SpectacularSwaggerView": None,
}


def token_scopes(request) -> list[str] | None:
    """The scopes the request's token is limited to; None for sessions and unscoped tokens."""
    token = request.auth
    if not isinstance(token, ApiToken):
        return None
    return token.effective_scopes()


def required_scope(request, view) -> str | None:
    """The scope this request needs from a scoped token (None: no scope needed)."""
    if hasattr(view, "token_scopes"):
        pair = view.token_scopes
    elif type(view).__name__ in VIEW_SCOPES:
        pair = VIEW_SCOPES[type(view).__name__]
    elif type(view).__module__.startswith("plays."):
        pair = PLAYS
    elif type(view).__module__.startswith("mqaflow.api"):
        pair = DIRECTORY
    else:
        pair = None
    if pair is None:
        return None
    return pair[0] if request.method in SAFE_METHODS else pair[1]


def is_integration(request, view=None) -> bool:
    """An integration token: ticked as one, or limited to the scope this view needs."""
    if not isinstance(request.auth, ApiToken):
        return False
    if request.auth.is_integration:
        return True
    scopes = token_scopes(request)
    needed = required_scope(request, view) if view is not None else None
    return bool(scopes and needed in scopes and needed in ("ingest", "directory"))


class TokenScopePermission(BasePermission):
    """A scoped token reaches only what its scopes name (403 names the missing scope)."""

    message = "This token's scopes do not cover this endpoint."

    def has_permission(self, request, view) -> bool:
        scopes = token_scopes(request)
        if scopes is None:
            return True
        needed = required_scope(request, view)
        if needed is None or needed in scopes:
            return True
        self.message = (
            f"This token lacks the scope '{needed}' (it has: {', '.join(scopes) or 'none'})."
        )
        return False


class DirectoryPermission(TokenScopePermission):
    message = (
        "Only admins and integration tokens may change owners, accounts, contacts, "
        "opportunities and events."
    )

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return True
        self.message = DirectoryPermission.message
        return bool(user.is_staff or is_integration(request, view))
