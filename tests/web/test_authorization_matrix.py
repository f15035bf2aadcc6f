"""Every API endpoint and web page × every kind of user: the expected status, in one table."""

import itertools
import json

import pytest
from django.test import Client
from django.utils import timezone

from mqaflow.models import Account, Owner, RuleSet
from mqaflow.tokens import token_issue
from plays.models import DismissReason, Play
from tests.factories import (
    UserFactory,
    org_chart,
    qualified_play,
)

pytestmark = pytest.mark.django_db

WHO = [
    "anonymous",
    "adr",
    "other_adr",
    "manager",
    "other_manager",
    "staff",
    "superuser",
    "integration",
]

# (method, path, body) → expected status per WHO column, in order.
# Pages redirect anonymous users (and API-only tokens) to the login page (302); the API
# answers 401. Writes outside plays are for admins and integration tokens only.
WRITE = [401, 403, 403, 403, 403, 201, 201, 201]
UPDATE = [401, 403, 403, 403, 403, 200, 200, 200]
READ = [401, 200, 200, 200, 200, 200, 200, 200]
MATRIX = [
    ("GET", "/plays/", None, [302, 200, 200, 200, 200, 200, 200, 302]),
    ("GET", "/plays/{play}/", None, [302, 200, 404, 200, 404, 200, 200, 302]),
    ("GET", "/team/", None, [302, 404, 404, 200, 200, 200, 200, 302]),
    ("GET", "/reports/", None, [302, 200, 200, 200, 200, 200, 200, 302]),
    ("GET", "/reports/mqas.csv", None, [302, 200, 200, 200, 200, 200, 200, 302]),
    ("GET", "/tuning/", None, [302, 403, 403, 200, 200, 200, 200, 302]),
    ("POST", "/tuning/digest/", {"subscribe": "1"}, [302, 403, 403, 302, 302, 302, 302, 302]),
    ("GET", "/admin/", None, [302, 302, 302, 302, 302, 200, 200, 302]),
    (
        "POST",
        "/plays/{play}/complete/",
        {"outcome": "meeting_booked"},
        [302, 302, 404, 403, 404, 403, 403, 302],
    ),
    (
        "POST",
        "/plays/{play}/dismiss/",
        {"reason": "{wrong_fit_id}"},
        [302, 302, 404, 302, 404, 302, 302, 302],
    ),
    ("POST", "/plays/{play}/reopen/", {}, [302, 403, 404, 302, 404, 302, 302, 302]),
    (
        "POST",
        "/plays/{play}/reassign/",
        {"owner": "{peer_id}"},
        [302, 403, 404, 302, 404, 302, 302, 302],
    ),
    # issue 16: the staff overview, comments, bulk actions and the reports' CSVs
    ("GET", "/overview/", None, [302, 404, 404, 404, 404, 200, 200, 302]),
    ("POST", "/plays/{play}/comment/", {"body": "hi"}, [302, 302, 404, 302, 404, 302, 302, 302]),
    ("POST", "/team/bulk/", {}, [302, 404, 404, 302, 302, 302, 302, 302]),
    ("GET", "/reports/sla-team.csv", None, [302, 200, 200, 200, 200, 200, 200, 302]),
    ("GET", "/api/v1/accounts/", None, READ),
    ("POST", "/api/v1/accounts/", {"domain": "new{n}.example", "name": "New"}, WRITE),
    ("GET", "/api/v1/accounts/acme.com/", None, READ),
    ("PATCH", "/api/v1/accounts/acme.com/", {"industry": "Software"}, UPDATE),
    ("PATCH", "/api/v1/accounts/acme.com/", {"owner": "{other_adr_email}"}, UPDATE),
    ("DELETE", "/api/v1/accounts/acme.com/", None, [401, 403, 403, 403, 403, 405, 405, 405]),
    ("GET", "/api/v1/accounts/acme.com/mqa-history/", None, READ),
    ("GET", "/api/v1/owners/", None, READ),
    ("POST", "/api/v1/owners/", {"email": "new{n}@seller.example", "name": "New"}, WRITE),
    ("GET", "/api/v1/owners/{adr_email}/", None, READ),
    ("PATCH", "/api/v1/owners/{adr_email}/", {"manager": None}, UPDATE),
    ("PATCH", "/api/v1/owners/{other_adr_email}/", {"manager": "{adr_email}"}, UPDATE),
    (
        "PUT",
        "/api/v1/owners/{adr_email}/",
        {"email": "{adr_email}", "name": "ADR", "manager": None},
        UPDATE,
    ),
    ("GET", "/api/v1/contacts/", None, READ),
    ("POST", "/api/v1/contacts/", {"account": "acme.com", "email": "c{n}@acme.com"}, WRITE),
    ("GET", "/api/v1/events/", None, READ),
    (
        "POST",
        "/api/v1/events/",
        {"id": "m{n}", "account": "acme.com", "activity": "web_visit", "occurred_at": "{now}"},
        WRITE,
    ),
    ("GET", "/api/v1/reports/mqas/", None, READ),
    # An integration token without scopes has ingest and directory, not plays:read.
    ("GET", "/api/v1/plays/", None, [401, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/v1/plays/{play}/", None, [401, 200, 404, 200, 404, 200, 200, 403]),
    ("POST", "/api/v1/plays/{play}/start/", {}, [401, 200, 403, 403, 403, 403, 403, 403]),
    (
        "POST",
        "/api/v1/plays/{play}/dismiss/",
        {"reason": "wrong-fit"},
        [401, 200, 403, 200, 403, 200, 200, 403],
    ),
    (
        "POST",
        "/api/v1/plays/{play}/reassign/",
        {"owner": "{peer_email}"},
        [401, 403, 403, 200, 403, 200, 200, 403],
    ),
    ("POST", "/api/v1/plays/{play}/reopen/", {}, [401, 403, 403, 200, 403, 200, 200, 403]),
    ("GET", "/api/schema/", None, READ),
    ("GET", "/health/", None, [503] * 8),
    # issue 14: backtests are for staff (admin login otherwise); running one needs the
    # "add backtest run" permission; the live set is refused
    (
        "GET",
        "/tuning/rule-sets/{live_set}/backtests/",
        None,
        [302, 302, 302, 302, 302, 200, 200, 302],
    ),
    (
        "POST",
        "/tuning/rule-sets/{live_set}/backtests/",
        {"weeks": "1"},
        [302, 302, 302, 302, 302, 403, 400, 302],
    ),
]


@pytest.fixture
def people():
    roles = ("ceo", "mgr", "adr", "peer", "other_mgr", "other_adr")
    org = org_chart(*roles)
    _ceo, manager, adr, peer, other_manager, other_adr = (org[role] for role in roles)
    play = qualified_play(adr, domain="acme.com")
    account = play.account
    system = UserFactory(username="crm-sync@seller.example")
    _, key = token_issue(user=system, name="CRM sync", integration=True)
    return {
        "adr": adr.user,
        "other_adr": other_adr.user,
        "manager": manager.user,
        "other_manager": other_manager.user,
        "staff": UserFactory(is_staff=True),
        "superuser": UserFactory(is_staff=True, is_superuser=True),
        "integration": key,
        "play": Play.objects.get(account=account),
        "account": account,
        "owners": {
            "adr": adr,
            "manager": manager,
            "other_adr": other_adr,
            "other_manager": other_manager,
        },
        "values": {
            "peer_id": peer.pk,
            "peer_email": peer.email,
            "adr_email": adr.email,
            "other_adr_email": other_adr.email,
            "wrong_fit_id": DismissReason.objects.get(slug="wrong-fit").pk,
            "live_set": RuleSet.objects.live().pk,
        },
    }


def _reset(people, method, path, who):
    """Each row starts from the same world: a pending play of the ADR, the org as built."""
    owners = people["owners"]
    Owner.objects.filter(pk=owners["adr"].pk).update(
        manager=owners["manager"], name=owners["adr"].name
    )
    Owner.objects.filter(pk=owners["other_adr"].pk).update(manager=owners["other_manager"])
    Account.objects.filter(pk=people["account"].pk).update(owner=owners["adr"])
    status = "pending"
    if "complete" in path and who == "adr":
        status = "started"
    if "reopen" in path:
        status = "dismissed"
    Play.objects.filter(pk=people["play"].pk).update(
        status=status,
        assignee=owners["adr"],
        started_at=None,
        dismissed_at=timezone.now() if status == "dismissed" else None,
    )


def _call(client, method, url, data, headers):
    if method == "GET":
        return client.get(url, headers=headers)
    if url.startswith("/api/"):
        return client.generic(
            method, url, json.dumps(data), content_type="application/json", headers=headers
        )
    return client.post(url, data, headers=headers)


# What a page action must have done when it answered its redirect (a refused action also
# redirects, with a message): checked for every signed-in user who got the 302.
EFFECTS = {
    "/plays/{play}/complete/": lambda play, people: play.status == "completed",
    "/plays/{play}/dismiss/": lambda play, people: play.status == "dismissed",
    "/plays/{play}/reopen/": lambda play, people: play.status == "pending",
    "/plays/{play}/reassign/": lambda play, people: play.assignee_id == people["values"]["peer_id"],
}


def test_authorization_matrix(people):
    """Every endpoint and page × method × kind of user: the expected status, in one table."""
    failures = []
    counter = itertools.count()
    for method, path, body, expected in MATRIX:
        for who, status in zip(WHO, expected, strict=True):
            _reset(people, method, path, who)
            values = {**people["values"], "n": next(counter), "now": timezone.now().isoformat()}
            url = path.format(play=people["play"].pk, **values)
            data = {
                k: (v.format(**values) if isinstance(v, str) else v)
                for k, v in (body or {}).items()
            }
            client, headers = Client(), {}
            if who == "integration":
                headers = {"Authorization": f"Token {people['integration']}"}
            elif who != "anonymous":
                client.force_login(people[who])
            response = _call(client, method, url, data, headers)
            if response.status_code != status:
                failures.append(
                    f"{method} {path} as {who}: {response.status_code} != {status}"
                    f" {response.content[:200]!r}"
                )
            elif status == 302 and path in EFFECTS and who not in ("anonymous", "integration"):
                play = Play.objects.get(pk=people["play"].pk)
                if not EFFECTS[path](play, people):
                    failures.append(f"{method} {path} as {who}: redirected but did nothing")
    assert not failures, "\n".join(failures)


def test_an_adr_cannot_take_another_team_out_of_the_chain(people):
    """The attack from the issue: an ADR re-parents another team's ADR under themselves
    (and removes their own manager); both are refused and nothing changes."""
    client = Client()
    client.force_login(people["adr"])
    other = people["owners"]["other_adr"]
    response = client.patch(
        f"/api/v1/owners/{other.email}/",
        json.dumps({"manager": people["values"]["adr_email"]}),
        content_type="application/json",
    )
    assert response.status_code == 403
    response = client.patch(
        f"/api/v1/owners/{people['values']['adr_email']}/",
        json.dumps({"manager": None}),
        content_type="application/json",
    )
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.manager == people["owners"]["other_manager"]
    assert Owner.objects.get(pk=people["owners"]["adr"].pk).manager == people["owners"]["manager"]
