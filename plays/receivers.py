"""Plays react to qualification through its signal, inside the transition's transaction."""

from django.dispatch import receiver

from mqaflow.signals import account_qualified

from .services import play_create


@receiver(account_qualified, dispatch_uid="plays.create_play_on_qualification")
def create_play(sender, transition, **kwargs) -> None:
    play_create(account=transition.account, transition=transition, now=transition.at)
