"""The OpenAPI schema against the real server: Schemathesis generates requests from
/api/schema/ and checks every answer (no 5xx, documented status codes, bodies and content
types as the schema says, invalid input refused, valid input accepted) — for an admin token
and for an ADR's token — with a fixed seed and a bounded number of examples.

`make fuzz` runs the same with more examples and a random seed (SCHEMATHESIS_EXAMPLES,
SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_TIME).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.api_live import live_server, seed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261127")
MAX_TIME = os.environ.get("SCHEMATHESIS_MAX_TIME", "")

# Valid by the schema yet refused by the server, and rightly so: a reference to a row that
# does not exist (an owner's manager, an account's owner, a contact's account, an event's
# account or activity, the new assignee) cannot be expressed in OpenAPI, nor can the
# report's `to` not before `from`. Only those get 400 as an accepted answer to schema-valid
# data; every other read must answer 2xx.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", 401, 403, 404, 409]

[[operations]]
include-method = ["POST", "PUT", "PATCH"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409]

[[operations]]
include-path = "/api/v1/reports/mqas/"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404]
"""


@pytest.fixture
def live_server_url(tmp_path):
    with live_server(tmp_path) as url:
        yield url


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
    budget = int(MAX_TIME) * 2 if MAX_TIME else 600
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=budget, check=False
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("who", ["admin", "adr"])
def test_the_schema_holds_against_the_running_server(live_server_url, tmp_path, who):
    keys = seed()
    code, output = run_schemathesis(live_server_url, keys[who], tmp_path, who)
    assert code == 0, output[-12000:]
    print(output[-2500:])  # the summary and the seed, seen with `pytest -s` (make fuzz)
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected and selected[1] == selected[2], output[-2500:]
    assert f"Tested: {selected[1]}" in output, output[-2500:]
