from django.core.management.base import BaseCommand
from django.utils import timezone

from plays.escalation import NoticeOutcome, escalations_sweep

# How each outcome reads after a real run, and after a dry run.
WORDS = {
    "sent": ("sent", "would send"),
    "skipped": ("skipped", "would skip"),
    "waiting": ("waits until", "would wait until"),
    "retrying": ("not sent, to retry", "would send"),
    "failed": ("failed", "would send"),
    "later": ("left for the next sweep", "would send"),
}


def describe(outcome: NoticeOutcome, *, dry_run: bool) -> str:
    real, dry = WORDS[outcome.outcome]
    state = dry if dry_run else real
    if outcome.at is not None:
        state += f" {timezone.localtime(outcome.at):%Y-%m-%d %H:%M %Z}"
    if outcome.outcome == "skipped" and outcome.note:
        state += f" ({outcome.note})"
    who = outcome.recipient_email or "nobody"
    return f"play #{outcome.play_id} step {outcome.step} ({outcome.kind}) → {who}: {state}"


class Command(BaseCommand):
    help = "Run the escalation sweep now: plan every due step and deliver it before returning."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="say what the sweep would do now, for every due play; send and keep nothing",
        )

    def handle(self, *args, dry_run=False, **options):
        result = escalations_sweep(dry_run=dry_run)
        for outcome in result.outcomes:
            self.stdout.write(describe(outcome, dry_run=dry_run))
        first = "would be " if dry_run else ""
        if result.moved or result.withdrawn:
            self.stdout.write(
                f"{result.moved} play(s) {first}moved for an absence and "
                f"{result.withdrawn} play(s) {first}withdrawn first."
            )
        if dry_run:
            self.stdout.write(
                f"{len(result.planned)} step(s) due; nothing sent (dry run): {result.sent} "
                f"notice(s) would go in {result.emails} email(s), {result.skipped} skipped."
            )
        else:
            self.stdout.write(
                f"{len(result.planned)} step(s) planned; {result.sent} sent, "
                f"{result.retrying} to retry, {result.failed} failed, {result.skipped} skipped."
            )
