"""The OpenAPI schema says what the server does (issue #17): errors, shapes, nullability,
limits and examples — checked on the served document, and real answers checked against it."""

import jsonschema
import pytest
from django.conf import settings

from mqaflow.api.query import BoundedLimitOffsetPagination
from plays.models import DismissReason, PlayStatus
from tests.factories import AccountFactory, OwnerFactory

pytestmark = pytest.mark.django_db

WRITES = {"post", "put", "patch"}


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def resolve(schema, node):
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        node = node["allOf"][0] if "allOf" in node else node
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def component(schema, name):
    return schema["components"]["schemas"][name]


def param(operation, name):
    return next(p for p in operation.get("parameters", []) if p["name"] == name)


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(schema):
        expected = {"400", "401", "414", "429"}
        if "{" in path:
            expected.add("404")
        if method in WRITES:
            expected |= {"403", "413", "415"}
        if path.startswith("/api/v1/plays/{id}/") and path != "/api/v1/plays/{id}/":
            expected |= {"403", "409"}
        responses = operation["responses"]
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            assert responses[code]["content"]["application/json"]["schema"] == error_ref
    error = component(schema, "Error")
    assert set(error["required"]) == {"detail", "code", "errors"}


def test_the_mqa_report_is_an_object_with_period_and_results(schema):
    body = schema["paths"]["/api/v1/reports/mqas/"]["get"]["responses"]["200"]
    report = resolve(schema, body["content"]["application/json"]["schema"])
    assert report["type"] == "object"
    assert set(report["properties"]) == {"period", "results"}
    assert report["properties"]["results"]["type"] == "array"
    operation = schema["paths"]["/api/v1/reports/mqas/"]["get"]
    assert param(operation, "from")["schema"]["format"] == "date"
    assert param(operation, "to")["schema"]["format"] == "date"
    assert param(operation, "period")["schema"]["enum"] == ["week", "month"]


def test_nullable_fields_are_marked(schema):
    mqa = component(schema, "MQA")["properties"]
    assert mqa["qualified_at"]["nullable"] is True
    for name in ("rule", "clause", "act_now_rule"):
        assert mqa[name]["nullable"] is True, name
        assert component(schema, "Transition")["properties"][name]["nullable"] is True, name
    play = component(schema, "Play")["properties"]
    for name in ("dismissed_reason", "started_at", "completed_at", "remind_at"):
        assert play[name]["nullable"] is True, name
    assert component(schema, "EventList")["properties"]["contact"]["nullable"] is True
    assert component(schema, "Account")["properties"]["owner"]["nullable"] is True


def test_constraints_the_server_enforces_are_in_the_schema(schema, api_client):
    funnel = resolve(schema, component(schema, "AccountRequest")["properties"]["funnel"])
    assert funnel["enum"] == [1, 2, 3]
    accounts = schema["paths"]["/api/v1/accounts/"]["get"]
    assert param(accounts, "funnel")["schema"]["enum"] == [1, 2, 3]

    owner_email = component(schema, "OwnerRequest")["properties"]["email"]
    assert owner_email["maxLength"] == 150  # the Django username column

    plays = schema["paths"]["/api/v1/plays/"]["get"]
    assert param(plays, "status")["schema"]["enum"] == list(PlayStatus.values)

    events = schema["paths"]["/api/v1/events/"]
    assert param(events["get"], "since")["schema"]["format"] == "date-time"
    assert param(events["get"], "account")["schema"]["maxLength"] == 253
    body = events["post"]["requestBody"]["content"]["application/json"]["schema"]
    single, batch = body["oneOf"]
    assert single == {"$ref": "#/components/schemas/EventRequest"}
    assert batch == {
        "type": "array",
        "items": single,
        "minItems": 1,
        "maxItems": settings.MQAFLOW_EVENT_BATCH_MAX,
    }

    for path in ("/api/v1/accounts/", "/api/v1/plays/", "/api/v1/events/"):
        operation = schema["paths"][path]["get"]
        assert param(operation, "limit")["schema"]["minimum"] == 1
        assert param(operation, "limit")["schema"]["maximum"] == (
            BoundedLimitOffsetPagination.max_limit
        )
        assert param(operation, "offset")["schema"]["minimum"] == 0

    # PATCH cannot change the domain: it is not part of the request, only of the answer.
    patch = schema["paths"]["/api/v1/accounts/{domain}/"]["patch"]
    request = resolve(schema, patch["requestBody"]["content"]["application/json"]["schema"])
    assert "domain" not in request["properties"]
    answer = resolve(schema, patch["responses"]["200"]["content"]["application/json"]["schema"])
    assert answer["properties"]["domain"]["readOnly"] is True


def test_dismiss_reasons_are_the_active_ones_when_the_schema_is_made(api_client):
    DismissReason.objects.create(slug="acquired", label="Acquired")
    DismissReason.objects.filter(slug="wrong-fit").update(is_active=False)
    schema = api_client.get("/api/schema/?format=json").json()
    reason = component(schema, "DismissRequest")["properties"]["reason"]
    active = sorted(DismissReason.objects.filter(is_active=True).values_list("slug", flat=True))
    assert reason["enum"] == active
    assert "acquired" in reason["enum"] and "wrong-fit" not in reason["enum"]


def test_every_write_has_a_request_example(schema):
    for path, method, operation in operations(schema):
        if method not in WRITES or "requestBody" not in operation:
            continue
        content = operation["requestBody"]["content"]
        assert set(content) == {"application/json"}, (method, path)
        assert content["application/json"].get("examples"), (method, path)


def validator_for(schema, ref_or_schema):
    """A jsonschema validator for a node of the document (OpenAPI 3.0 nullable → null)."""

    def convert(node):
        if isinstance(node, dict):
            node = {k: convert(v) for k, v in node.items()}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            if "$ref" in node:
                node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
            return node
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    root = convert(ref_or_schema)
    root["$defs"] = convert(schema["components"]["schemas"])
    return jsonschema.Draft202012Validator(root)


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "/api/v1/plays/abc/", None, 404),
        ("get", "/api/v1/accounts/?limit=0", None, 400),
        ("post", "/api/v1/owners/", {"email": "x"}, 400),
        ("post", "/api/v1/events/", [{"id": " "}], 400),
        ("get", "/api/v1/accounts/nope.example/", None, 404),
        ("get", "/api/v1/events/?since=x", None, 400),
    ],
)
def test_real_error_answers_match_the_documented_error_schema(
    api_client, schema, method, path, body, status
):
    response = getattr(api_client, method)(path, body, format="json")
    assert response.status_code == status
    validator_for(schema, {"$ref": "#/components/schemas/Error"}).validate(response.json())


def test_real_success_answers_match_the_documented_schemas(api_client, schema):
    AccountFactory(domain="acme.com", owner=OwnerFactory())
    checks = [
        ("/api/v1/accounts/", "/api/v1/accounts/"),
        ("/api/v1/accounts/acme.com/", "/api/v1/accounts/{domain}/"),
        ("/api/v1/owners/", "/api/v1/owners/"),
        ("/api/v1/events/", "/api/v1/events/"),
        ("/api/v1/reports/mqas/", "/api/v1/reports/mqas/"),
        ("/api/v1/plays/", "/api/v1/plays/"),
    ]
    for url, path in checks:
        response = api_client.get(url)
        assert response.status_code == 200, url
        documented = schema["paths"][path]["get"]["responses"]["200"]["content"]
        validator_for(schema, documented["application/json"]["schema"]).validate(response.json())
