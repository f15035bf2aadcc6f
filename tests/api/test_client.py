"""A Python client generated from the live /api/schema/ (openapi-python-client) drives the
real server: if the schema lied about a path, a body or a response, the generated code would
fail to call or to parse. The client is generated into the test's tmp dir, never committed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.support.api_live import live_server, seed
from tests.support.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PACKAGE = "mqaflow_generated_client"


def generate_client(url: str, key: str, tmp_path: Path):
    schema = requests.get(
        f"{url}/api/schema/?format=json", headers={"Authorization": f"Token {key}"}, timeout=30
    )
    assert schema.status_code == 200, schema.text[:500]
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema.json()))
    config = tmp_path / "client-config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run on generated code
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(schema_path),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    return importlib.import_module(PACKAGE)


@pytest.fixture
def client_package(tmp_path):
    yield
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_a_generated_client_creates_and_reads_through_the_live_api(tmp_path, client_package):
    keys = seed()
    with live_server(tmp_path) as url:
        generate_client(url, keys["admin"], tmp_path)
        api = importlib.import_module(f"{PACKAGE}.api.v1")
        models = importlib.import_module(f"{PACKAGE}.models")
        client_module = importlib.import_module(f"{PACKAGE}.client")
        for name in (
            "v1_owners_create",
            "v1_accounts_create",
            "v1_contacts_create",
            "v1_events_create",
            "v1_events_list",
            "v1_plays_list",
            "v1_plays_retrieve",
        ):
            importlib.import_module(f"{PACKAGE}.api.v1.{name}")
        client = client_module.AuthenticatedClient(
            base_url=url, token=keys["admin"], prefix="Token", raise_on_unexpected_status=True
        )

        owner = api.v1_owners_create.sync(
            client=client,
            body=models.OwnerRequest(
                email="zoe@seller.example", name="Zoe", title="ADR", manager="maya@seller.example"
            ),
        )
        assert isinstance(owner, models.Owner), owner
        assert owner.manager == "maya@seller.example"

        account = api.v1_accounts_create.sync(
            client=client,
            body=models.AccountRequest(
                domain="NewCo.example",
                name="NewCo",
                funnel=models.FunnelEnum.VALUE_1,
                employees=1500,
                owner="zoe@seller.example",
            ),
        )
        assert isinstance(account, models.Account), account
        assert account.domain == "newco.example"
        assert account.mqa.qualified_at is None

        contact = api.v1_contacts_create.sync(
            client=client,
            body=models.ContactRequest(
                account="newco.example",
                email="cio@newco.example",
                seniority=models.SeniorityEnum.C_LEVEL,
            ),
        )
        assert isinstance(contact, models.Contact), contact

        when = datetime.now(UTC) - timedelta(minutes=5)
        result = api.v1_events_create.sync(
            client=client,
            body=[
                models.EventRequest(
                    id="gen-1",
                    account="newco.example",
                    contact="cio@newco.example",
                    activity="demo_request",
                    occurred_at=when,
                ),
                models.EventRequest(
                    id=2, account="newco.example", activity="web_visit", occurred_at=when
                ),
            ],
        )
        assert isinstance(result, models.EventIngestResult), result
        assert (result.created, result.duplicates) == (2, 0)

        bad = api.v1_events_create.sync(
            client=client,
            body=models.EventRequest(
                id="gen-3", account="a/b.example", activity="web_visit", occurred_at=when
            ),
        )
        assert isinstance(bad, models.Error), bad
        assert bad.code == "invalid" and "account" in bad.errors.additional_properties

        events = api.v1_events_list.sync(client=client, account="newco.example")
        assert sorted(e.id for e in events.results) == ["2", "gen-1"]

        def play_listed():
            page = api.v1_plays_list.sync(client=client, account="newco.example")
            return page.results if page.count else None

        assert wait_for(play_listed, timeout=30), "the demo request made no play"
        play = play_listed()[0]
        assert play.assignee == "zoe@seller.example"
        assert play.dismissed_reason is None
        detail = api.v1_plays_retrieve.sync(client=client, id=play.id)
        assert detail.id == play.id

        missing = api.v1_plays_retrieve.sync(client=client, id=999999)
        assert isinstance(missing, models.Error) and missing.code == "not_found"
