from django.core.management.base import BaseCommand

from plays.escalation import escalations_sweep


class Command(BaseCommand):
    help = "Run the escalation sweep now: plan every due step and deliver it before returning."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list the steps that are due; send nothing"
        )

    def handle(self, *args, dry_run=False, **options):
        result = escalations_sweep(dry_run=dry_run)
        for row in result.planned:
            who = row.recipient_email or "nobody"
            state = (
                ("would skip" if row.status == "skipped" else "would send")
                if dry_run
                else row.status
            )
            self.stdout.write(f"play #{row.play_id} step {row.step} ({row.kind}) → {who}: {state}")
        if dry_run:
            self.stdout.write(f"{len(result.planned)} step(s) due; nothing sent (dry run).")
        else:
            self.stdout.write(
                f"{len(result.planned)} step(s) planned; {result.sent} sent, "
                f"{result.retrying} to retry, {result.failed} failed, {result.skipped} skipped."
            )
