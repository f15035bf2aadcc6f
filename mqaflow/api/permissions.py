"""Who may write what through the API.

Plays are worked by the people they belong to (the play services decide). Everything else
an ADR's escalation chain rests on (owners and their managers, account owners and
exclusions, contacts, engagement) is written only by admins (staff, by session or token)
and by integration tokens an admin issued for a system. A person's own session or token,
ADR or manager, reads but never rewrites the org.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from mqaflow.models import ApiToken


def is_integration(request) -> bool:
    return isinstance(request.auth, ApiToken) and request.auth.is_integration


class DirectoryPermission(BasePermission):
    message = "Only admins and integration tokens may change owners, accounts, contacts and events."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return bool(user.is_staff or is_integration(request))
