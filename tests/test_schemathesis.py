"""The OpenAPI schema against the real server: Schemathesis generates requests from
/api/schema/ and checks every answer (no 5xx, documented status codes, bodies and content
types as the schema says, invalid input refused, valid input accepted) — for an admin token
and for an ADR's token — with a fixed seed and a bounded number of examples.

`make fuzz` runs the same with more examples and a random seed (SCHEMATHESIS_EXAMPLES,
SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_TIME).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from mqaflow.models import ApiToken
from mqaflow.qualification.engine import evaluate_accounts
from plays.models import Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, OwnerFactory, activity
from tests.processes import ROOT, process_env, stop, wait_for
from tests.reliability_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261127")
MAX_TIME = os.environ.get("SCHEMATHESIS_MAX_TIME", "")

# Valid by the schema yet refused by the server, and rightly so: a reference to a row that
# does not exist (an owner's manager, an account's owner, a contact's account, an event's
# account or activity, the new assignee) cannot be expressed in OpenAPI. Only writes get
# 400 as an accepted answer to schema-valid data; reads must answer 2xx.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", 401, 403, 404, 409]

[[operations]]
include-method = ["POST", "PUT", "PATCH"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409]
"""


def seed() -> dict:
    """The people and rows the schema's examples name, and a pending play of the ADR's."""
    ceo = OwnerFactory(name="Maya Chen", email="maya@seller.example")
    ceo.user.is_staff = True
    ceo.user.save()
    adr = OwnerFactory(name="Ana Souza", email="ana@seller.example", manager=ceo)
    OwnerFactory(name="Ben Ode", email="ben@seller.example", manager=ceo)
    account = AccountFactory(domain="acme.com", name="Acme", funnel=1, owner=adr)
    contact = ContactFactory(account=account, email="jane@acme.com", seniority="vp")
    activity("webinar_attended")
    EventFactory(
        account=account,
        contact=contact,
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    evaluate_accounts([account.pk])
    play = Play.objects.get(account=account)
    _, admin_key = ApiToken.issue(user=ceo.user, name="schemathesis admin")
    _, adr_key = ApiToken.issue(user=adr.user, name="schemathesis adr")
    return {"admin": admin_key, "adr": adr_key, "play": play.pk}


@pytest.fixture
def live_server_url(tmp_path):
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
                "mqaflow.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=process_env(LOG_LEVEL="WARNING"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/api/v1/", timeout=2).status_code == 404
        except requests.ConnectionError:
            return False

    try:
        assert wait_for(up, timeout=30), "gunicorn did not start"
        yield url
    finally:
        stop(proc)
        logs = log_path.read_text()
        if "Traceback" in logs:
            print(logs[-6000:])


def run_schemathesis(url: str, key: str, tmp_path: Path, name: str) -> tuple[int, str]:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/api/schema/",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / f"report-{name}"),
        "--request-timeout",
        "20",
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    if MAX_TIME:
        command += ["--max-time", MAX_TIME]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("who", ["admin", "adr"])
def test_the_schema_holds_against_the_running_server(live_server_url, tmp_path, who):
    keys = seed()
    code, output = run_schemathesis(live_server_url, keys[who], tmp_path, who)
    assert code == 0, output[-12000:]
    assert "Tested: 21" in output or "Tested:" in output
