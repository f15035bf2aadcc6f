from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mqaflow.models import RuleSet
from tuning.backtests import BacktestError, backtest_create, backtest_execute
from tuning.models import BacktestStatus


class Command(BaseCommand):
    help = (
        "Replay the last weeks under a draft rule set and under the live set (synchronously, "
        "with a progress bar), store the run and print a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rule-set", type=int, required=True, metavar="ID", help="the draft")
        parser.add_argument("--weeks", type=int, default=13, help="whole weeks (default 13)")

    def handle(self, *args, rule_set: int, weeks: int, **options):
        found = RuleSet.objects.filter(pk=rule_set).first()
        if found is None:
            raise CommandError(f"--rule-set: no rule set with id {rule_set}.")
        try:
            run = backtest_create(rule_set=found, weeks=weeks)
        except BacktestError as error:
            raise CommandError(f"--{error.field.replace('_', '-')}: {error}") from error
        self.stdout.write(
            f"Backtest #{run.pk}: “{found.name}” vs live “{RuleSet.objects.live().name}”, "
            f"{run.start} – {run.end} ({run.weeks} weeks)"
        )
        quiet = options.get("verbosity", 1) == 0
        bar_format = "Replaying: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"
        with tqdm(total=100, bar_format=bar_format, disable=quiet, file=self.stderr) as bar:
            done = backtest_execute(run_id=run.pk, progress=lambda p: bar.update(p - bar.n))
        if done is None:  # cannot happen: the run was created above, queued
            raise CommandError(f"Backtest #{run.pk} was taken by another process.")
        if done.status == BacktestStatus.FAILED:
            raise CommandError(f"Backtest #{done.pk} failed: {done.error}")
        r = done.results
        load = r["load"]
        self.stdout.write(f"MQAs: draft {r['totals']['draft']}, live {r['totals']['live']}")
        self.stdout.write(f"Accounts gained: {r['gained']['count']}, lost: {r['lost']['count']}")
        self.stdout.write(
            f"Weeks with an ADR over capacity: draft {load['weeks_over']}, "
            f"live {load['weeks_over_live']} (of {done.weeks})"
        )
        self.stdout.write(f"Run id: {done.pk}")
