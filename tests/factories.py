"""factory_boy factories for the domain; tests build exactly the rows they talk about."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from mqaflow.models import (
    Account,
    ActivityType,
    Contact,
    EngagementEvent,
    Opportunity,
    Owner,
)
from mqaflow.qualification.engine import accounts_evaluate
from plays.models import Play


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.django.Password("pw-for-tests")


class OwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Owner

    name = factory.Sequence(lambda n: f"Owner {n}")
    email = factory.Sequence(lambda n: f"owner{n}@seller.example")
    title = "ADR"
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..email"))
    manager = None


# The org chart tests talk about: role → (the role's manager, name, email).
ORG_CHART: dict[str, tuple[str | None, str, str]] = {
    "ceo": (None, "Cara CEO", "ceo@s.example"),
    "vp": ("ceo", "Vic VP", "vp@s.example"),
    "mgr": ("vp", "Mia Manager", "mgr@s.example"),
    "adr": ("mgr", "Ana ADR", "ana@s.example"),
    "peer": ("mgr", "Bo Peer", "bo@s.example"),
    "other_mgr": ("vp", "Otto Manager", "otto@s.example"),
    "other_adr": ("other_mgr", "Olga ADR", "olga@s.example"),
}
STANDARD_ROLES = ("ceo", "vp", "mgr", "adr", "peer")


def org_chart(*roles: str, **overrides: dict) -> dict[str, Owner]:
    """Owners in reporting lines, by role: ADR and peer → manager → VP → CEO unless `roles`
    names others from ORG_CHART. A role whose manager is not built reports to the nearest
    one above that is, so `org_chart("ceo", "mgr", "adr")` is a chart without a VP.
    `overrides` gives a role other factory fields: `org_chart(mgr={"name": "Maya Chen"})`."""
    roles = roles or STANDARD_ROLES
    unknown = (set(roles) | set(overrides)) - ORG_CHART.keys()
    if unknown:
        raise ValueError(f"Not in the org chart: {', '.join(sorted(unknown))}")
    people: dict[str, Owner] = {}
    for role, (boss, name, email) in ORG_CHART.items():  # managers before their reports
        if role not in roles:
            continue
        while boss is not None and boss not in roles:
            boss = ORG_CHART[boss][0]
        fields = {"name": name, "email": email, "manager": people.get(boss) if boss else None}
        people[role] = OwnerFactory(**{**fields, **overrides.get(role, {})})
    return people


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    funnel = 1
    employees = 500
    owner = factory.SubFactory(OwnerFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"person{n}@buyer.example")
    name = factory.Sequence(lambda n: f"Person {n}")
    persona = "marketing"
    seniority = "individual"


def activity(key: str) -> ActivityType:
    """The ActivityType installed by the data migration (or a stand-in after a flush)."""
    obj, _ = ActivityType.objects.get_or_create(
        key=key, defaults={"name": key.replace("_", " ").title(), "minutes": Decimal(10)}
    )
    return obj


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementEvent

    external_id = factory.Sequence(lambda n: f"evt-{n}")
    account = factory.SubFactory(AccountFactory)
    contact = None
    activity = factory.LazyFunction(lambda: activity("web_visit"))
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    minutes = Decimal(10)
    source = "test"
    ingested_at = factory.LazyFunction(timezone.now)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    external_id = factory.Sequence(lambda n: f"opp-{n}")
    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    created_at = factory.LazyFunction(timezone.now)
    stage = "discovery"
    amount = Decimal("1000.00")
    currency = "USD"
    ingested_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


def qualified_plays(owner: Owner, n: int = 1, at=None, funnel: int = 1, **account) -> list[Play]:
    """`n` accounts of `owner` that a demo request an hour before `at` has just qualified,
    and their plays (the shortest real path to a play: the engine, not a factory)."""
    at = at or timezone.now()
    accounts = AccountFactory.create_batch(n, funnel=funnel, owner=owner, **account)
    for row in accounts:
        EventFactory(
            account=row,
            contact=ContactFactory(account=row),
            activity=activity("demo_request"),
            occurred_at=at - timedelta(hours=1),
        )
    accounts_evaluate(account_ids=[a.pk for a in accounts], now=at)
    return list(Play.objects.filter(account__in=accounts).order_by("pk"))


def qualified_play(owner: Owner, at=None, **account) -> Play:
    """One qualified account of `owner` and its play; see qualified_plays."""
    return qualified_plays(owner, 1, at, **account)[0]
