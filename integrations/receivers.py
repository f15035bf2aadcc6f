"""The outbox listens to the domain: every reported change is recorded in the transaction
that makes it (signals are sent inside it), so an event exists exactly when the change
committed."""

from __future__ import annotations

from django.dispatch import receiver

from mqaflow.signals import account_disqualified, account_qualified
from plays.models import NoticeKind
from plays.signals import notices_sent, play_changed

from .payloads import actor_payload, play_payload, transition_payload
from .services import outbox_record

PLAY_EVENT_TYPES = {
    "created": "play.created",
    "started": "play.started",
    "completed": "play.completed",
    "dismissed": "play.dismissed",
    "withdrawn": "play.withdrawn",
    "reassigned": "play.reassigned",
}


@receiver(account_qualified, dispatch_uid="integrations.account_qualified")
def account_qualified_webhook(sender, transition, **kwargs) -> None:
    outbox_record(type="account.qualified", data=transition_payload(transition), at=transition.at)


@receiver(account_disqualified, dispatch_uid="integrations.account_disqualified")
def account_disqualified_webhook(sender, transition, **kwargs) -> None:
    outbox_record(
        type="account.disqualified", data=transition_payload(transition), at=transition.at
    )


@receiver(play_changed, dispatch_uid="integrations.play_changed")
def play_changed_webhook(sender, play, kind, at, by=None, note="", **kwargs) -> None:
    event_type = PLAY_EVENT_TYPES.get(kind)
    if event_type is None:  # reopened: the next start or dismissal is what a CRM tracks
        return
    data = {"play": play_payload(play), "by": actor_payload(by), "note": note}
    outbox_record(type=event_type, data=data, at=at)


@receiver(notices_sent, dispatch_uid="integrations.play_escalated")
def play_escalated_webhook(sender, notices, at, **kwargs) -> None:
    for notice in notices:
        if notice.kind != NoticeKind.ESCALATION:
            continue
        data = {
            "play": play_payload(notice.play),
            "escalation": {
                "step": notice.step,
                "level": notice.level,
                "recipient": notice.recipient_email,
                "due_at": notice.due_at.isoformat(),
                "note": notice.note,
            },
        }
        outbox_record(type="play.escalated", data=data, at=at)
