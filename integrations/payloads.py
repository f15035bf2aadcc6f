"""What webhooks say about accounts and plays: plain JSON a CRM can map to its objects."""

from __future__ import annotations

from django.conf import settings


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def account_payload(account) -> dict:
    owner = account.owner
    return {
        "domain": account.domain,
        "name": account.name,
        "external_id": account.external_id,
        "funnel": account.funnel,
        "owner": owner.email if owner else None,
    }


def transition_payload(transition) -> dict:
    return {
        "account": account_payload(transition.account),
        "from_status": transition.from_status,
        "to_status": transition.to_status,
        "at": _iso(transition.at),
        "rule": transition.rule.name if transition.rule_id else None,
        "explanation": transition.explanation,
        "figures": transition.figures,
        "cause": transition.cause,
    }


def play_payload(play) -> dict:
    return {
        "id": play.pk,
        "url": f"{settings.SITE_URL}{play.get_absolute_url()}",
        "status": play.status,
        "account": account_payload(play.account),
        "assignee": {"email": play.assignee.email, "name": play.assignee.name},
        "why": play.transition.explanation if play.transition_id else "",
        "created_at": _iso(play.created_at),
        "due_at": _iso(play.due_at),
        "started_at": _iso(play.started_at),
        "completed_at": _iso(play.completed_at),
        "dismissed_at": _iso(play.dismissed_at),
        "dismissed_reason": play.dismissed_reason.slug if play.dismissed_reason_id else None,
        "withdrawn_at": _iso(play.withdrawn_at),
        "withdrawn_reason": play.withdrawn_reason or None,
    }


def actor_payload(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.email or user.get_username()
