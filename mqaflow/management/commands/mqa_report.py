from django.core.management.base import BaseCommand, CommandError

from mqaflow.qualification.reports import PERIODS, parse_report_range
from mqaflow.selectors import new_mqas_by_period


class Command(BaseCommand):
    help = "New MQAs per week or month by funnel and size band."

    def add_arguments(self, parser):
        parser.add_argument("--period", choices=list(PERIODS), default="week")
        parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", metavar="YYYY-MM-DD")

    def handle(self, *args, period, start=None, end=None, **options):
        bounds, errors = parse_report_range({"from": start, "to": end})
        if errors:
            raise CommandError(
                "; ".join(f"--{name}: {' '.join(msgs)}" for name, msgs in errors.items())
            )
        rows = new_mqas_by_period(period=period, start=bounds.get("from"), end=bounds.get("to"))
        self.stdout.write(f"{period:<12} {'funnel':>6}  {'size band':<12} {'new MQAs':>8}")
        for row in rows:
            self.stdout.write(
                f"{row.period.isoformat():<12} {row.funnel:>6}  {row.size_band:<12} {row.count:>8}"
            )
        self.stdout.write(f"{'total':<12} {'':>6}  {'':<12} {sum(r.count for r in rows):>8}")
