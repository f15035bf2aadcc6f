"""Opportunities from the CRM: POST /api/v1/opportunities/ creates or updates by the CRM's id,
one or a batch, all or nothing (400 naming index and field, nothing stored), with history;
and the same from files with `import_csv opportunities`."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from mqaflow.models import Opportunity
from mqaflow.tokens import token_issue
from tests.factories import (
    AccountFactory,
    OpportunityFactory,
    UserFactory,
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/opportunities/"


def token_client(**kwargs):
    _, key = token_issue(user=UserFactory(username="crm@s.example"), name="CRM", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def crm():
    """A client with a directory-scoped token, as the CRM sync uses."""
    return token_client(scopes="directory")


@pytest.fixture
def acme():
    return AccountFactory(domain="acme.com", name="Acme")


def opp(n=1, **over):
    item = {
        "id": f"006-{n}",
        "account": "acme.com",
        "name": f"Deal {n}",
        "created_at": "2026-11-02T10:00:00+01:00",
        "stage": "discovery",
        "amount": "1000.50",
        "currency": "eur",
        "closed_at": None,
        "won": None,
        "source": "salesforce",
    }
    return item | over


def test_a_batch_creates_then_a_repeat_updates_with_history(crm, acme):
    response = crm.post(URL, [opp(1), opp(2, amount=250)], format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "updated": 0}
    first = Opportunity.objects.get(external_id="006-1")
    assert first.account == acme and first.currency == "EUR"
    assert first.amount == Decimal("1000.50") and first.won is None
    assert first.created_at.isoformat() == "2026-11-02T09:00:00+00:00"
    assert Opportunity.objects.get(external_id="006-2").amount == Decimal(250)

    moved = opp(1, stage="closed won", amount=1200, won=True, closed_at="2026-11-20T12:00:00Z")
    response = crm.post(URL, [moved, opp(2, amount=250)], format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 0, "updated": 2}
    first.refresh_from_db()
    assert (first.stage, first.amount, first.won) == ("closed won", Decimal(1200), True)
    history = list(first.history.order_by("history_date").values_list("stage", "amount"))
    assert history == [("discovery", Decimal("1000.50")), ("closed won", Decimal(1200))]
    assert first.history.latest().history_user.username == "crm@s.example"
    # the unchanged one is not rewritten: one history row
    assert Opportunity.objects.get(external_id="006-2").history.count() == 1


def test_one_object_and_fields_left_out_keep_their_value(crm, acme):
    response = crm.post(URL, opp(1), format="json")
    assert response.status_code == 201 and response.json() == {"created": 1, "updated": 0}
    item = {k: v for k, v in opp(1, stage="proposal").items() if k not in ("amount", "source")}
    response = crm.post(URL, item, format="json")
    assert response.status_code == 200 and response.json() == {"created": 0, "updated": 1}
    row = Opportunity.objects.get()
    assert (row.stage, row.amount, row.source) == ("proposal", Decimal("1000.50"), "salesforce")


@override_settings(MQAFLOW_UPSERT_BATCH_MAX=3)
def test_more_than_the_batch_limit_is_refused(crm, acme):
    response = crm.post(URL, [opp(n) for n in range(4)], format="json")
    assert response.status_code == 400
    assert "At most 3" in response.json()["errors"]["non_field_errors"][0]
    assert not Opportunity.objects.exists()


def test_the_limit_is_5000(settings):
    assert settings.MQAFLOW_UPSERT_BATCH_MAX == 5000


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (opp(9, account="nobody.example"), "account"),
        (opp(9, amount="12,5"), "amount"),
        (opp(9, amount=-1), "amount"),
        (opp(9, amount="1.234"), "amount"),
        (opp(9, currency="EURO"), "currency"),
        (opp(9, currency=None), "currency"),  # an amount needs its currency
        (opp(9, won="yes"), "won"),
        (opp(9, created_at="yesterday"), "created_at"),
        (opp(9, created_at="2026-11-02T10:00:00"), "created_at"),  # no offset
        (opp(9, created_at="2999-01-01T00:00:00Z"), "created_at"),
        (opp(9, closed_at="2026-11-01T00:00:00Z"), "closed_at"),  # before created_at
        ({k: v for k, v in opp(9).items() if k != "id"}, "id"),
        (opp(9, colour="red"), "colour"),
        (opp(1), "id"),  # twice in the batch
    ],
)
def test_bad_input_names_index_and_field_and_stores_nothing(crm, acme, item, field):
    stored = OpportunityFactory(account=acme, external_id="006-1", stage="discovery")
    before = stored.history.count()
    batch = [opp(1, stage="proposal"), opp(2), item]
    response = crm.post(URL, batch, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["2"] and field in body["errors"]["2"], body
    assert "index 2" in body["detail"]
    assert Opportunity.objects.count() == 1
    stored.refresh_from_db()
    assert stored.stage == "discovery" and stored.history.count() == before


def test_one_bad_object_names_its_field(crm, acme):
    response = crm.post(URL, opp(1, won="maybe"), format="json")
    assert response.status_code == 400
    assert "won" in response.json()["errors"]
    assert not Opportunity.objects.exists()


def test_only_admins_and_directory_tokens_write(acme):
    ingest_only = token_client(scopes=["ingest"])
    response = ingest_only.post(URL, [opp(1)], format="json")
    assert response.status_code == 403 and "'directory'" in response.json()["detail"]
    adr = APIClient()
    adr.force_authenticate(UserFactory(username="adr@s.example"))
    assert adr.post(URL, [opp(1)], format="json").status_code == 403
    assert APIClient().post(URL, [opp(1)], format="json").status_code == 401
    assert not Opportunity.objects.exists()
    assert token_client(scopes=["directory"]).post(URL, opp(1), format="json").status_code == 201


def test_the_schema_documents_the_endpoint(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/opportunities/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["maxItems"] == 5000
    one = schema["components"]["schemas"]["OpportunityRequest"]
    assert set(one["properties"]) == {
        "id",
        "account",
        "name",
        "created_at",
        "stage",
        "amount",
        "currency",
        "closed_at",
        "won",
        "source",
    }
    assert set(one["required"]) == {"id", "account", "name", "created_at"}
    assert one["properties"]["won"]["nullable"] is True
    assert {"200", "201", "400", "403"} <= set(operation["responses"])


def _csv(tmp_path, text):
    path = tmp_path / "opportunities.csv"
    path.write_text(text)
    return path


HEADER = "id,account,name,created_at,stage,amount,currency,closed_at,won,source\n"


def test_import_csv_creates_then_updates(tmp_path, acme):
    path = _csv(
        tmp_path,
        HEADER
        + "o-1,acme.com,Rollout,2026-11-02T10:00:00Z,discovery,1000,usd,,,crm\n"
        + "o-2,ACME.com,Renewal,2026-10-01T10:00:00Z,closed,500.5,EUR,"
        "2026-11-01T10:00:00Z,false,crm\n",
    )
    out = StringIO()
    call_command("import_csv", "opportunities", str(path), stdout=out)
    assert "2 opportunities created" in out.getvalue()
    renewal = Opportunity.objects.get(external_id="o-2")
    assert renewal.won is False and renewal.amount == Decimal("500.50")
    assert Opportunity.objects.get(external_id="o-1").won is None
    path.write_text(HEADER + "o-1,acme.com,Rollout,2026-11-02T10:00:00Z,proposal,,,,,crm\n")
    out = StringIO()
    call_command("import_csv", "opportunities", str(path), stdout=out)
    assert "0 opportunities created, 1 updated" in out.getvalue()
    rollout = Opportunity.objects.get(external_id="o-1")
    assert rollout.stage == "proposal" and rollout.amount == Decimal(1000)


def test_import_csv_with_a_bad_row_stores_nothing(tmp_path, acme):
    path = _csv(
        tmp_path,
        HEADER
        + "o-1,acme.com,Rollout,2026-11-02T10:00:00Z,discovery,1000,USD,,,crm\n"
        + "o-2,acme.com,Renewal,2026-10-01T10:00:00Z,closed,lots,USD,,perhaps,crm\n",
    )
    with pytest.raises(CommandError) as failure:
        call_command("import_csv", "opportunities", str(path), stdout=StringIO())
    message = str(failure.value)
    assert "line 3: amount:" in message and "line 3: won:" in message
    assert not Opportunity.objects.exists()


@pytest.fixture
def play_with_opportunities():
    adr = org_chart("mgr", "adr")["adr"]
    play = qualified_play(adr, domain="deal.example")
    OpportunityFactory(
        account=play.account,
        external_id="006-A",
        name="Platform rollout",
        stage="negotiation",
        amount=Decimal("48000"),
        currency="EUR",
    )
    OpportunityFactory(
        account=play.account,
        name="Pilot",
        stage="closed lost",
        amount=None,
        won=False,
        created_at=play.created_at - timedelta(days=40),
        closed_at=play.created_at - timedelta(days=2),
    )
    OpportunityFactory(name="Someone else's deal")
    return adr, play


def test_the_play_page_lists_the_accounts_opportunities(play_with_opportunities):
    adr, play = play_with_opportunities
    client = Client()
    client.force_login(adr.user)
    html = client.get(f"/plays/{play.pk}/").content.decode()
    assert "Opportunities" in html
    assert "Platform rollout" in html and "negotiation" in html and "48,000.00 EUR" in html
    assert "Pilot" in html and "lost" in html
    assert "Someone else" not in html


def test_the_play_api_shows_the_accounts_opportunities(api_client, play_with_opportunities):
    _, play = play_with_opportunities
    listed = api_client.get("/api/v1/plays/").json()["results"]
    one = api_client.get(f"/api/v1/plays/{play.pk}/").json()
    for body in (next(p for p in listed if p["id"] == play.pk), one):
        assert [o["name"] for o in body["opportunities"]] == ["Platform rollout", "Pilot"]
        first = body["opportunities"][0]
        assert first["id"] == "006-A" and first["amount"] == "48000.00" and first["won"] is None


def test_admin_lists_filters_searches_and_shows_history(acme):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    row = OpportunityFactory(account=acme, name="Rollout", stage="proposal", won=True)
    OpportunityFactory(name="Elsewhere")
    url = reverse("admin:mqaflow_opportunity_changelist")
    page = client.get(url, {"q": "acme.com", "won__exact": "1", "stage": "proposal"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rollout" in html and "Elsewhere" not in html
    history = client.get(reverse("admin:mqaflow_opportunity_history", args=[row.pk]))
    assert history.status_code == 200
    assert client.get(reverse("admin:mqaflow_opportunity_add")).status_code == 403
