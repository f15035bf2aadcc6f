"""A real gunicorn against the test database, and the rows the API schema's examples name:
shared by the Schemathesis run and the generated-client test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.tokens import token_issue
from plays.models import Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity, org_chart
from tests.support.processes import ROOT, process_env, stop, wait_for
from tests.support.reliability_support import free_port


def seed() -> dict:
    """The people and rows the schema's examples name, and a pending play of the ADR's."""
    people = org_chart(
        "ceo",
        "adr",
        "peer",
        ceo={"name": "Maya Chen", "email": "maya@seller.example"},
        adr={"name": "Ana Souza", "email": "ana@seller.example"},
        peer={"name": "Ben Ode", "email": "ben@seller.example"},
    )
    ceo, adr = people["ceo"], people["adr"]
    ceo.user.is_staff = True
    ceo.user.save()
    account = AccountFactory(domain="acme.com", name="Acme", funnel=1, owner=adr)
    contact = ContactFactory(account=account, email="jane@acme.com", seniority="vp")
    activity("webinar_attended")
    EventFactory(
        account=account,
        contact=contact,
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    accounts_evaluate(account_ids=[account.pk])
    play = Play.objects.get(account=account)
    _, admin_key = token_issue(user=ceo.user, name="schemathesis admin")
    _, adr_key = token_issue(user=adr.user, name="schemathesis adr")
    return {"admin": admin_key, "adr": adr_key, "play": play.pk}


@contextmanager
def live_server(tmp_path: Path) -> Iterator[str]:
    """A real gunicorn on a free port, against the test database. Its log goes to a file:
    a pipe nobody reads while Schemathesis runs would fill up and stall the workers."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            # no worker runs here: the web processes run their tasks themselves
            env=process_env(LOG_LEVEL="WARNING", CELERY_TASK_ALWAYS_EAGER="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/api/v1/", timeout=5).status_code == 404
        except requests.RequestException:
            return False

    try:
        assert wait_for(up, timeout=60), "gunicorn did not start"
        yield url
    finally:
        stop(proc)
        logs = log_path.read_text()
        if "Traceback" in logs:
            print(logs[-6000:])
