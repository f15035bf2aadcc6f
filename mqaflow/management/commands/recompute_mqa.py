from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mqaflow.models import Account, Funnel
from mqaflow.qualification.engine import accounts_evaluate


class Command(BaseCommand):
    help = "Re-evaluate MQA status (all accounts, or one) with the rules in force."

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="DOMAIN", help="only this account")
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would change; write nothing"
        )

    def handle(self, *args, account=None, dry_run=False, **options):
        if account:
            ids = list(Account.objects.filter(domain=account.lower()).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"--account: no account with domain {account!r}.")
        else:
            ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        show_bar = len(ids) > 1000 and options.get("verbosity", 1) > 0
        with tqdm(total=len(ids), unit="account", disable=not show_bar, file=self.stderr) as bar:
            result = accounts_evaluate(
                account_ids=None if account is None else ids,
                dry_run=dry_run,
                progress=bar.update,
                cause="manual",
            )
        verb = "would change" if dry_run else "changed"
        counts = result.by_funnel()
        self.stdout.write(
            f"Evaluated {result.evaluated} account(s); {sum(counts.values())} {verb}."
        )
        for (funnel, move), n in sorted(counts.items()):
            self.stdout.write(f"  {Funnel(funnel).label}: {move}: {n}")
        if dry_run:
            for acct, decision in result.would_change[:50]:
                self.stdout.write(f"  {acct.domain}: {decision.explanation}")
