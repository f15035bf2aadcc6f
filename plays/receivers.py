"""Plays react to the account and the org through domain signals, inside the sender's
transaction: a play is created, withdrawn or moved together with the change that caused it."""

from django.db import transaction
from django.dispatch import receiver

from mqaflow.signals import (
    account_disqualified,
    account_owner_changed,
    accounts_qualified,
    owner_deactivated,
)

from .assignment import plays_follow_deactivation, plays_follow_owner
from .channels import chat_notices_record
from .creation import plays_create_for
from .services import plays_follow_disqualification
from .signals import notices_sent


@receiver(accounts_qualified, dispatch_uid="plays.create_plays_on_qualification")
def create_plays(sender, transitions, **kwargs) -> dict[str, int]:
    return {"plays": len(plays_create_for(transitions=transitions))}


@receiver(account_disqualified, dispatch_uid="plays.withdraw_play_on_disqualification")
def withdraw_play(sender, transition, **kwargs) -> None:
    with transaction.atomic():  # the sender's transaction, or one of our own
        plays_follow_disqualification(transition=transition)


@receiver(account_owner_changed, dispatch_uid="plays.follow_account_owner")
def follow_owner(sender, account, by=None, **kwargs) -> None:
    with transaction.atomic():  # a plain save() in autocommit still locks the play
        plays_follow_owner(account=account, by=by)


@receiver(notices_sent, dispatch_uid="plays.chat_notices")
def chat_notices(sender, notices, at, **kwargs) -> None:
    chat_notices_record(notices=notices, now=at)


@receiver(owner_deactivated, dispatch_uid="plays.follow_owner_deactivation")
def follow_deactivation(sender, owner, by=None, **kwargs) -> None:
    with transaction.atomic():
        plays_follow_deactivation(owner=owner, by=by)
