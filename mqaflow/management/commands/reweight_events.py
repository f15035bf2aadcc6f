from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from mqaflow.reweight import UnknownActivity, events_reweight


class Command(BaseCommand):
    help = (
        "Re-credit stored events with the current activity minutes and seniority multipliers. "
        "Credited minutes are fixed at ingest on purpose, so a weight change applies to new "
        "events only; run this (then recompute_mqa) when it should apply to history too. "
        "Minutes that a source sent explicitly are overwritten as well."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="only events on or after")
        parser.add_argument("--activity", metavar="KEY", help="only this activity type")
        parser.add_argument("--dry-run", action="store_true", help="count only; write nothing")

    def handle(self, *args, since=None, activity=None, dry_run=False, **options):
        day = None
        if since:
            day = parse_date(since)
            if day is None:
                raise CommandError(f"--since: not a date as YYYY-MM-DD: {since!r}")
        try:
            total = events_reweight(since=day, activity=activity, dry_run=dry_run)
        except UnknownActivity as exc:
            raise CommandError(f"--activity: {exc}") from exc
        if dry_run:
            self.stdout.write(f"Would re-weight {total} event(s).")
        else:
            self.stdout.write(f"Re-weighted {total} event(s); run recompute_mqa to apply them.")
