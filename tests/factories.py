"""factory_boy factories for the domain; tests build exactly the rows they talk about."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from mqaflow.models import Account, ActivityType, Contact, EngagementEvent, Owner


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
