"""Demo data: an org chart, ~60 accounts and 90 days of engagement that tell a story.

Deterministic (a seeded random generator and natural keys), so running it twice changes
nothing. Events are shaped so that some accounts clearly qualify under the default rules,
some clearly do not, a few qualify through Act Now, and a few have aged out.

Each app seeds its own part (plays: plays/demo.py): `demo_seed` runs the seeders listed in
settings.MQAFLOW_DEMO_SEEDERS, in order, on one shared `Demo`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from mqaflow.ingest import credited_minutes
from mqaflow.models import (
    Account,
    ActivityType,
    Contact,
    EngagementEvent,
    MQAStatus,
    MQATransition,
    Opportunity,
    Owner,
    Persona,
    Seniority,
    SeniorityMultiplier,
)

ORG = [
    # (email, name, title, manager email)
    ("ceo@mqaflow.example", "Catherine Okafor", "CEO", None),
    ("vp.sales@mqaflow.example", "Victor Lindqvist", "VP Sales", "ceo@mqaflow.example"),
    ("manager.east@mqaflow.example", "Maya Chen", "ADR Manager, East", "vp.sales@mqaflow.example"),
    (
        "manager.west@mqaflow.example",
        "Marco Rossi",
        "ADR Manager, West",
        "vp.sales@mqaflow.example",
    ),
    ("adr1@mqaflow.example", "Ana Souza", "ADR", "manager.east@mqaflow.example"),
    ("adr2@mqaflow.example", "Ben Carter", "ADR", "manager.east@mqaflow.example"),
    ("adr3@mqaflow.example", "Chloé Martin", "ADR", "manager.east@mqaflow.example"),
    ("adr4@mqaflow.example", "Dev Patel", "ADR", "manager.west@mqaflow.example"),
    ("adr5@mqaflow.example", "Eva Novak", "ADR", "manager.west@mqaflow.example"),
    ("adr6@mqaflow.example", "Felix Braun", "ADR", "manager.west@mqaflow.example"),
]
ADMIN_EMAIL = "admin@mqaflow.example"
DEFAULT_PASSWORD = "mqaflow-demo"

PREFIXES = [
    "North",
    "Blue",
    "Bright",
    "Iron",
    "Silver",
    "Green",
    "Summit",
    "Atlas",
    "Nova",
    "Pine",
    "Harbor",
    "Quantum",
    "Crimson",
    "Golden",
    "Cedar",
    "Polar",
    "Vertex",
    "Orbit",
    "Maple",
    "Falcon",
]
SUFFIXES = [
    "Logistics",
    "Health",
    "Robotics",
    "Foods",
    "Energy",
    "Analytics",
    "Textiles",
    "Bank",
    "Motors",
    "Labs",
    "Retail",
    "Pharma",
]
INDUSTRIES = [
    "Manufacturing",
    "Healthcare",
    "Financial services",
    "Retail",
    "Energy",
    "Software",
    "Logistics",
]
FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Riley",
    "Casey",
    "Jamie",
    "Robin",
    "Avery",
    "Quinn",
    "Kim",
    "Lee",
    "Noa",
    "Emil",
    "Ines",
    "Omar",
    "Priya",
    "Yuki",
    "Zoe",
]
LAST = [
    "Smith",
    "Garcia",
    "Müller",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Singh",
    "Andersen",
    "Costa",
    "Nguyen",
    "Okoye",
]

# Engagement profiles: (how many accounts, days ago range, events, people, activities)
STORY = {
    "hot": "qualifies clearly: plenty of minutes from several people, recently",
    "act_now": "a demo request or a director's meeting request",
    "warm": "some engagement, below the thresholds",
    "cold": "a web visit or two",
    "aged": "was busy, but more than the window ago",
}


@dataclass
class Demo:
    """The demo being seeded, shared by the seeders: each reads what earlier ones left
    (the org, the accounts, whether the database was fresh) and adds its own part."""

    password: str
    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(20261124))
    owners: dict[str, Owner] = field(default_factory=dict)
    accounts: list[tuple[Account, str]] = field(default_factory=list)
    # True when this run created the engagement, i.e. on a fresh database.
    fresh: bool = False
    events_created: int = 0
    # Filled by the plays' seeder: how many plays were aged into each state, and how many
    # notices the sweep then sent.
    stories: dict[str, int] = field(default_factory=dict)
    notices_sent: int = 0
    # Work that must run once the seeded rows are committed (e.g. a sweep that claims and
    # sends in its own transactions).
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class Seeder(Protocol):
    """What settings.MQAFLOW_DEMO_SEEDERS lists: each adds its app's part to `demo`."""

    def __call__(self, *, demo: Demo) -> None: ...


@dataclass
class SeedResult:
    owners: int
    accounts: int
    contacts: int
    events_created: int
    mqas: int
    logins: list[tuple[str, str, str]]
    stories: dict[str, int] = field(default_factory=dict)
    notices_sent: int = 0


def _user(email: str, password: str, *, staff: bool = False, superuser: bool = False) -> User:
    users = get_user_model().objects
    user, created = users.get_or_create(username=email, defaults={"email": email})
    if created or not user.has_usable_password():
        user.set_password(password)
    user.is_staff = user.is_staff or staff
    user.is_superuser = user.is_superuser or superuser
    user.save()
    return user


def _org(password: str) -> dict[str, Owner]:
    owners: dict[str, Owner] = {}
    for email, name, title, manager in ORG:
        owner = Owner.objects.filter(email=email).first()
        if owner is None:
            owner = Owner.objects.create(
                user=_user(email, password, staff=title == "CEO"),
                email=email,
                name=name,
                title=title,
                manager=owners.get(manager) if manager else None,
            )
        owners[email] = owner
    _user(ADMIN_EMAIL, password, staff=True, superuser=True)
    return owners


def _accounts(rng: random.Random, owners: dict[str, Owner]) -> list[tuple[Account, str]]:
    adrs = [o for e, o in owners.items() if e.startswith("adr")]
    story_cycle = ["hot", "warm", "cold", "hot", "act_now", "warm", "aged", "cold", "hot", "warm"]
    result = []
    for n in range(60):
        name = f"{PREFIXES[n % 20]} {SUFFIXES[(n * 7) % 12]}"
        domain = f"{name.lower().replace(' ', '')}.example"
        account, _ = Account.objects.get_or_create(
            domain=domain,
            defaults={
                "name": name,
                "funnel": (n % 3) + 1,
                "employees": rng.choice([40, 120, 180, 450, 1200, 8000]),
                "industry": rng.choice(INDUSTRIES),
                "owner": None if n == 59 else adrs[n % len(adrs)],
            },
        )
        result.append((account, story_cycle[n % len(story_cycle)]))
    for domain, name, reason in [
        ("partnerco.example", "PartnerCo", "partner"),
        ("rivalsoft.example", "RivalSoft", "competitor"),
    ]:
        account, _ = Account.objects.get_or_create(
            domain=domain,
            defaults={
                "name": name,
                "funnel": 2,
                "employees": 300,
                "excluded": True,
                "excluded_reason": reason,
                "owner": adrs[0],
            },
        )
        result.append((account, "hot"))
    return result


def _contacts(rng: random.Random, accounts: list[tuple[Account, str]]) -> dict[int, list[Contact]]:
    personas = list(Persona.values)
    seniorities = list(Seniority.values)
    rows = []
    for account, _ in accounts:
        for i in range(rng.randint(4, 7)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            rows.append(
                Contact(
                    account=account,
                    email=f"{first.lower()}.{i}@{account.domain}",
                    name=f"{first} {last}",
                    title="",
                    persona=personas[(i + account.pk) % len(personas)],
                    seniority=seniorities[(i * 2 + account.pk) % len(seniorities)],
                )
            )
    Contact.objects.bulk_create(rows, ignore_conflicts=True)
    by_account: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(account__in=[a for a, _ in accounts]).order_by("pk"):
        by_account.setdefault(contact.account_id, []).append(contact)
    return by_account


def _events(
    rng: random.Random,
    accounts: list[tuple[Account, str]],
    contacts: dict[int, list[Contact]],
    now: datetime,
) -> list[EngagementEvent]:
    acts = {a.key: a for a in ActivityType.objects.all()}
    mult = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
    plain = ["web_visit", "content_download", "webinar_attended", "event_visit"]
    rows: list[EngagementEvent] = []

    def add(account: Account, contact: Contact | None, key: str, days_ago: int) -> None:
        activity = acts[key]
        rows.append(
            EngagementEvent(
                external_id=f"demo-{account.domain}-{len(rows)}",
                account=account,
                contact=contact,
                activity=activity,
                occurred_at=now - timedelta(days=days_ago, minutes=rng.randint(0, 600)),
                minutes=credited_minutes(
                    activity.minutes, mult.get(contact.seniority) if contact else None
                ),
                source="demo",
                ingested_at=now,
            )
        )

    for account, story in accounts:
        people = contacts.get(account.pk, [])
        if story == "hot":
            for i in range(14):
                add(account, people[i % 4], rng.choice(plain[1:]), rng.randint(1, 20))
        elif story == "act_now":
            for i in range(3):
                add(account, people[i], "web_visit", rng.randint(1, 10))
            add(account, people[0], "demo_request", rng.randint(0, 2))
        elif story == "warm":
            for _ in range(3):
                add(account, people[0], rng.choice(plain[:2]), rng.randint(1, 25))
            add(account, None, "web_visit", 3)
        elif story == "cold":
            add(account, None, "web_visit", rng.randint(1, 80))
        elif story == "aged":
            for i in range(12):
                add(account, people[i % 4], rng.choice(plain[1:]), rng.randint(65, 89))
    return rows


def org_seed(*, demo: Demo) -> None:
    """The org chart, an admin, and their logins."""
    demo.owners = _org(demo.password)


def accounts_seed(*, demo: Demo) -> None:
    """Accounts, contacts and (on a fresh database) 90 days of engagement; then every demo
    account is evaluated, which creates the plays of those that qualify."""
    from mqaflow.qualification.engine import accounts_evaluate

    demo.accounts = _accounts(demo.rng, demo.owners)
    contacts = _contacts(demo.rng, demo.accounts)
    demo.fresh = not EngagementEvent.objects.filter(source="demo").exists()
    if demo.fresh:
        events = _events(demo.rng, demo.accounts, contacts, demo.now)
        created = EngagementEvent.objects.bulk_create(events, ignore_conflicts=True)
        demo.events_created = len(created)
        Account.objects.filter(pk__in=[a.pk for a, _ in demo.accounts]).update(
            last_event_ingested_at=demo.now
        )
    accounts_evaluate(account_ids=[a.pk for a, _ in demo.accounts], now=demo.now)


DEMO_STAGES = ["discovery", "qualification", "proposal", "negotiation"]


def opportunities_seed(*, demo: Demo) -> None:
    """What MQAs led to, so plays and conversion figures have something to show: every
    other qualified account got an opportunity a day after it qualified (or now, if that is
    later than now), and every third an older one it lost before. Runs after the plays'
    seeder, which moves qualifications back in time; uses no random draw (the seeders
    before it keep theirs)."""
    domains = sorted(a.domain for a, _ in demo.accounts)
    qualified = dict(
        MQATransition.objects.filter(account__domain__in=domains, to_status=MQAStatus.MQA)
        .order_by("account__domain", "at")
        .values_list("account__domain", "at")
    )  # the latest qualification of each account wins
    accounts = {a.domain: a for a, _ in demo.accounts}
    rows: list[Opportunity] = []
    for n, domain in enumerate(d for d in domains if d in qualified):
        account = accounts[domain]
        if n % 2 == 0:
            rows.append(
                Opportunity(
                    external_id=f"demo-opp-{domain}",
                    account=account,
                    name=f"{account.name} — platform",
                    created_at=min(demo.now, qualified[domain] + timedelta(days=1)),
                    stage=DEMO_STAGES[n % len(DEMO_STAGES)],
                    amount=Decimal(12000 + 2500 * (n % 7)),
                    currency="USD" if n % 4 else "EUR",
                    source="demo",
                    ingested_at=demo.now,
                    updated_at=demo.now,
                )
            )
        if n % 3 == 0:
            rows.append(
                Opportunity(
                    external_id=f"demo-opp-{domain}-lost",
                    account=account,
                    name=f"{account.name} — pilot",
                    created_at=demo.now - timedelta(days=240),
                    stage="closed lost",
                    amount=Decimal(4000 + 500 * (n % 5)),
                    currency="USD",
                    closed_at=demo.now - timedelta(days=180),
                    won=False,
                    source="demo",
                    ingested_at=demo.now,
                    updated_at=demo.now,
                )
            )
    Opportunity.objects.bulk_create(rows, ignore_conflicts=True)


def demo_seed(*, password: str = DEFAULT_PASSWORD, now: datetime | None = None) -> SeedResult:
    """Create whatever demo rows are missing; existing rows are left as they are.

    The seeders (settings.MQAFLOW_DEMO_SEEDERS) run in order in one transaction; what they
    left for after the commit runs then (on a fresh database: the plays' escalation sweep,
    so the reminders and escalations are already in the outbox)."""
    demo = Demo(password=password, now=now or timezone.now())
    seeders: list[Seeder] = [import_string(path) for path in settings.MQAFLOW_DEMO_SEEDERS]
    with transaction.atomic():
        for seed in seeders:
            seed(demo=demo)
        result = SeedResult(
            owners=Owner.objects.count(),
            accounts=Account.objects.count(),
            contacts=Contact.objects.count(),
            events_created=demo.events_created,
            mqas=Account.objects.filter(mqa_status="mqa").count(),
            logins=[
                ("admin", ADMIN_EMAIL, password),
                ("manager", "manager.east@mqaflow.example", password),
                ("ADR", "adr1@mqaflow.example", password),
            ],
        )
    for then in demo.after_commit:
        then()
    result.stories, result.notices_sent = demo.stories, demo.notices_sent
    return result
