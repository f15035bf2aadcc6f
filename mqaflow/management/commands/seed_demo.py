"""`manage.py seed_demo`: each installed app seeds its own part of the demo, in the order
of settings.MQAFLOW_DEMO_SEEDERS (see mqaflow/demo.py)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from mqaflow.demo import DEFAULT_PASSWORD, STORY, demo_seed


class Command(BaseCommand):
    help = "Load the demo org, accounts and engagement (idempotent) and print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"password for the demo logins (default: {DEFAULT_PASSWORD})",
        )

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        result = demo_seed(password=password)
        self.stdout.write(
            f"Demo data: {result.owners} owners, {result.accounts} accounts, "
            f"{result.contacts} contacts, {result.events_created} new events, "
            f"{result.mqas} MQAs."
        )
        self.stdout.write("Account stories: " + "; ".join(f"{k}: {v}" for k, v in STORY.items()))
        if result.stories:
            self.stdout.write(
                "Plays aged to show every state: "
                + ", ".join(f"{n} {story.replace('_', ' ')}" for story, n in result.stories.items())
                + f"; {result.notices_sent} notice(s) sent to {_outbox()}."
            )
        self.stdout.write(f"\nOpen {settings.SITE_URL}/ and log in as:")
        for role, email, pw in result.logins:
            self.stdout.write(f"  {role:<8} {email} / {pw}")


def _outbox() -> str:
    """Where the notices went: the mail folder, or the configured mail server."""
    path = getattr(settings, "EMAIL_FILE_PATH", None)
    if path and settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        return str(path)
    return "the mail server"
