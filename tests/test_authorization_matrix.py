"""Every API endpoint and web page × every kind of user: the expected status, in one table."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from mqaflow.qualification.engine import evaluate_accounts
from plays.models import DismissReason, Play
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EventFactory,
    OwnerFactory,
    UserFactory,
    activity,
)

pytestmark = pytest.mark.django_db

WHO = ["anonymous", "adr", "other_adr", "manager", "other_manager", "staff", "superuser"]

# (method, path, body) → expected status per WHO column, in order.
# Pages redirect anonymous users to the login page (302); the API answers 401.
MATRIX = [
    ("GET", "/plays/", None, [302, 200, 200, 200, 200, 200, 200]),
    ("GET", "/plays/{play}/", None, [302, 200, 404, 200, 404, 200, 200]),
    ("GET", "/team/", None, [302, 404, 404, 200, 200, 404, 404]),
    ("GET", "/reports/", None, [302, 200, 200, 200, 200, 200, 200]),
    ("GET", "/reports/mqas.csv", None, [302, 200, 200, 200, 200, 200, 200]),
    ("GET", "/admin/", None, [302, 302, 302, 302, 302, 200, 200]),
    ("POST", "/plays/{play}/complete/", {}, [302, 302, 404, 403, 404, 403, 403]),
    (
        "POST",
        "/plays/{play}/reassign/",
        {"owner": "{other_adr_id}"},
        [302, 403, 404, 302, 404, 302, 302],
    ),
    ("GET", "/api/v1/accounts/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/accounts/acme.com/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/accounts/acme.com/mqa-history/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/owners/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/contacts/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/events/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/reports/mqas/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/plays/{play}/", None, [401, 200, 404, 200, 404, 200, 200]),
    ("POST", "/api/v1/plays/{play}/start/", {}, [401, 200, 403, 403, 403, 403, 403]),
    (
        "POST",
        "/api/v1/plays/{play}/dismiss/",
        {"reason": "wrong-fit"},
        [401, 403, 403, 200, 403, 200, 200],
    ),
    ("GET", "/api/schema/", None, [401, 200, 200, 200, 200, 200, 200]),
    ("GET", "/health/", None, [503, 503, 503, 503, 503, 503, 503]),
]


@pytest.fixture
def people():
    ceo = OwnerFactory(name="CEO")
    manager = OwnerFactory(name="Manager", manager=ceo)
    adr = OwnerFactory(name="ADR", manager=manager)
    other_manager = OwnerFactory(name="Other manager", manager=ceo)
    other_adr = OwnerFactory(name="Other ADR", manager=other_manager)
    account = AccountFactory(domain="acme.com", funnel=1, owner=adr)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("demo_request"),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    evaluate_accounts([account.pk])
    return {
        "adr": adr.user,
        "other_adr": other_adr.user,
        "manager": manager.user,
        "other_manager": other_manager.user,
        "staff": UserFactory(is_staff=True),
        "superuser": UserFactory(is_staff=True, is_superuser=True),
        "play": Play.objects.get(account=account),
        "other_adr_id": other_adr.pk,
    }


def test_authorization_matrix(people):
    failures = []
    for method, path, body, expected in MATRIX:
        for who, status in zip(WHO, expected, strict=True):
            # Each row starts from a pending play assigned to the ADR.
            Play.objects.filter(pk=people["play"].pk).update(
                status="pending", assignee=people["adr"].owner, started_at=None
            )
            if "complete" in path and who == "adr":
                Play.objects.filter(pk=people["play"].pk).update(status="started")
            url = path.format(play=people["play"].pk)
            data = {
                k: str(v).format(other_adr_id=people["other_adr_id"])
                for k, v in (body or {}).items()
            }
            client = Client()
            if who != "anonymous":
                client.force_login(people[who])
            if method == "GET":
                response = client.get(url)
            elif url.startswith("/api/"):
                response = client.post(url, data, content_type="application/json")
            else:
                response = client.post(url, data)
            if response.status_code != status:
                failures.append(f"{method} {path} as {who}: {response.status_code} != {status}")
    assert not failures, "\n".join(failures)
    assert DismissReason.objects.filter(slug="wrong-fit").exists()
