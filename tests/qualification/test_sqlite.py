"""The engine on SQLite (the `make run` default) decides the demo data exactly as on
PostgreSQL: same statuses, rules, figures and sentences, account by account.

The demo is seeded on SQLite in a subprocess (`make run` does the same); its accounts,
contacts and events are copied as they are into the PostgreSQL test database, so both
engines see identical data (the demo's own choices depend on the ids a database hands out).
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

SCRIPT = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.qualification.test_sqlite import NOW, data, outcome
from mqaflow.demo import demo_seed
demo_seed(now=NOW)
print("RESULT " + json.dumps({"outcome": outcome(), "data": data()}))
"""


def data() -> dict:
    """The evaluated data set, by natural keys."""
    from mqaflow.models import Account, Contact, EngagementEvent

    return {
        "accounts": list(
            Account.objects.values(
                "domain", "name", "funnel", "employees", "excluded", "excluded_reason"
            )
        ),
        "contacts": list(
            Contact.objects.values("account__domain", "email", "persona", "seniority")
        ),
        "events": [
            {**e, "occurred_at": e["occurred_at"].isoformat(), "minutes": str(e["minutes"])}
            for e in EngagementEvent.objects.values(
                "external_id",
                "account__domain",
                "contact__email",
                "activity__key",
                "occurred_at",
                "minutes",
            )
        ],
    }


def load(found: dict) -> list[int]:
    from decimal import Decimal

    from mqaflow.models import Account, ActivityType, Contact, EngagementEvent

    accounts = {a["domain"]: Account.objects.create(**a) for a in found["accounts"]}
    contacts = {
        (c["account__domain"], c["email"]): Contact.objects.create(
            account=accounts[c["account__domain"]],
            email=c["email"],
            persona=c["persona"],
            seniority=c["seniority"],
        )
        for c in found["contacts"]
    }
    activities = dict(ActivityType.objects.values_list("key", "pk"))
    EngagementEvent.objects.bulk_create(
        EngagementEvent(
            external_id=e["external_id"],
            account=accounts[e["account__domain"]],
            contact=contacts.get((e["account__domain"], e["contact__email"])),
            activity_id=activities[e["activity__key"]],
            occurred_at=datetime.fromisoformat(e["occurred_at"]),
            minutes=Decimal(e["minutes"]),
            ingested_at=NOW,
        )
        for e in found["events"]
    )
    return [a.pk for a in accounts.values()]


def outcome() -> dict:
    """What the engine stored and would explain now, per account domain."""
    from mqaflow.models import Account, MQATransition
    from mqaflow.qualification.engine import account_explain

    found = {}
    for a in Account.objects.select_related("mqa_rule", "mqa_clause", "mqa_act_now_rule"):
        now = account_explain(account=a, now=NOW)
        found[a.domain] = {
            "status": a.mqa_status,
            "qualified_at": a.qualified_at.isoformat() if a.qualified_at else None,
            "rule": a.mqa_rule.name if a.mqa_rule else None,
            "clause": a.mqa_clause.name if a.mqa_clause else None,
            "act_now": a.mqa_act_now_rule.name if a.mqa_act_now_rule else None,
            "figures": a.mqa_figures,
            "explanation": a.mqa_explanation,
            "transitions": MQATransition.objects.filter(account=a).count(),
            "now": [now.status, now.explanation, now.figures],
        }
    return found


def _on_sqlite(tmp_path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.django_db
def test_engine_gives_the_same_results_on_sqlite_and_postgresql(tmp_path):
    from django.db import connection

    from mqaflow.models import Account
    from mqaflow.qualification.engine import accounts_evaluate, decide
    from mqaflow.qualification.rulebook import Rulebook

    assert connection.vendor == "postgresql"
    found = _on_sqlite(tmp_path)
    sqlite = found["outcome"]
    accounts_evaluate(account_ids=load(found["data"]), now=NOW)
    postgres = outcome()
    assert sqlite.keys() == postgres.keys()
    for domain in postgres:
        assert sqlite[domain] == postgres[domain], domain
    statuses = [v["status"] for v in postgres.values()]
    assert "mqa" in statuses and "not_qualified" in statuses
    # And both agree with the reference Python evaluation (ORM measurements).
    accounts = list(Account.objects.all())
    reference = decide(accounts=accounts, rulebook=Rulebook(NOW.date()), now=NOW)
    for account in accounts:
        assert reference[account.pk].status == postgres[account.domain]["now"][0]
        assert reference[account.pk].explanation == postgres[account.domain]["now"][1]
