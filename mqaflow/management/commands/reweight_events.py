from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from mqaflow.ingest import credited_minutes
from mqaflow.models import ActivityType, EngagementEvent, Seniority, SeniorityMultiplier


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
        events = EngagementEvent.objects.all()
        activities = ActivityType.objects.all()
        if since:
            day = parse_date(since)
            if day is None:
                raise CommandError(f"--since: not a date as YYYY-MM-DD: {since!r}")
            tz = timezone.get_current_timezone()
            events = events.filter(occurred_at__gte=datetime.combine(day, time.min, tzinfo=tz))
        if activity:
            activities = activities.filter(key=activity)
            if not activities:
                raise CommandError(f"--activity: no activity type {activity!r}")
            events = events.filter(activity__key=activity)
        total = events.count()
        if dry_run:
            self.stdout.write(f"Would re-weight {total} event(s).")
            return
        multipliers = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
        with transaction.atomic():
            # One UPDATE per (activity, seniority): a handful of set-based statements.
            for act in activities:
                of_activity = events.filter(activity=act)
                of_activity.filter(contact__isnull=True).update(
                    minutes=credited_minutes(act.minutes, None)
                )
                for seniority in Seniority.values:
                    ids = of_activity.filter(contact__seniority=seniority).values("pk")
                    EngagementEvent.objects.filter(pk__in=ids).update(
                        minutes=credited_minutes(act.minutes, multipliers.get(seniority))
                    )
        self.stdout.write(f"Re-weighted {total} event(s); run recompute_mqa to apply them.")
