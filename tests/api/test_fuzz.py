"""Property-based tests of the events API: whatever arrives, a 4xx naming the problem,
never a 500, and nothing stored from a rejected batch."""

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqaflow.models import EngagementEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(["\x00", "a\x00b", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "‮rtl", " ", "9" * 300])
timestamps = (
    st.sampled_from(
        [
            "",
            "not a date",
            "2026-13-45T99:00:00Z",
            "9999-12-31T23:59:59+00:00",
            "2026-01-01T00:00:00",
            "+275760-09-13T00:00:00Z",
            "0001-01-01T00:00:00+00:00",
        ]
    )
    | odd_text
)

FIELDS = ["id", "account", "contact", "activity", "occurred_at", "minutes", "source"]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def acme():
    """Hypothesis runs many examples in one test transaction: create the account once."""
    from mqaflow.models import Account

    return Account.objects.filter(domain="acme.com").first() or AccountFactory(domain="acme.com")


def assert_rejected_cleanly(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert EngagementEvent.objects.count() == 0


@SETTINGS
@given(payload=json_values)
def test_arbitrary_json_never_500s(api_client, payload):
    response = api_client.post("/api/v1/events/", payload, format="json")
    if response.status_code == 201:  # e.g. a valid-looking object cannot exist without an account
        pytest.fail(f"accepted {payload!r}")
    assert_rejected_cleanly(response)
    assert response.json()


@SETTINGS
@given(field=st.sampled_from(FIELDS), value=json_values | odd_text | timestamps)
def test_a_bad_field_is_named_and_nothing_stored(api_client, field, value):
    acme()
    good = {
        "id": "g1",
        "account": "acme.com",
        "activity": "web_visit",
        "occurred_at": "2026-01-01T00:00:00+00:00",
    }
    bad = {**good, "id": "b1", field: value}
    response = api_client.post("/api/v1/events/", [good, bad], format="json")
    if response.status_code == 201:
        EngagementEvent.objects.all().delete()
        return  # the value happened to be valid (e.g. a real past timestamp or a source text)
    assert_rejected_cleanly(response)
    errors = response.json()["errors"]
    assert list(errors) == ["1"]
    assert set(errors["1"]) <= {*FIELDS, "non_field_errors"}


@SETTINGS
@given(
    stamp=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
    )
)
def test_any_real_past_date_since_1970_is_valid(api_client, stamp):
    acme()
    event = {
        "id": f"d-{stamp.isoformat()}",
        "account": "acme.com",
        "activity": "web_visit",
        "occurred_at": stamp.isoformat(),
    }
    response = api_client.post("/api/v1/events/", [event], format="json")
    assert response.status_code == 201, response.content
    EngagementEvent.objects.all().delete()


def test_huge_batches_and_deep_nesting_are_refused(api_client, settings):
    acme()
    event = {
        "id": "x",
        "account": "acme.com",
        "activity": "web_visit",
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    response = api_client.post("/api/v1/events/", [event] * 5001, format="json")
    assert response.status_code == 400 and "At most 5000" in str(response.json())
    nested = "[" * 5000 + "]" * 5000
    response = api_client.post("/api/v1/events/", nested, content_type="application/json")
    assert 400 <= response.status_code < 500
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client.post("/api/v1/events/", [event] * 50, format="json")
    assert response.status_code in (400, 413)  # Django or the API parser refuses it
    assert EngagementEvent.objects.count() == 0


def test_non_standard_json_numbers_are_refused(api_client):
    acme()
    body = (
        '[{"id": "n", "account": "acme.com", "activity": "web_visit", "minutes": NaN, '
        '"occurred_at": "2026-01-01T00:00:00Z"}]'
    )
    response = api_client.post("/api/v1/events/", body, content_type="application/json")
    assert response.status_code == 400
    assert EngagementEvent.objects.count() == 0
