"""Demo data: an org chart, ~60 accounts and 90 days of engagement that tell a story.

Deterministic (a seeded random generator and natural keys), so running it twice changes
nothing. Events are shaped so that some accounts clearly qualify under the default rules,
some clearly do not, a few qualify through Act Now, and a few have aged out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mqaflow.ingest import credited_minutes
from mqaflow.models import (
    Account,
    ActivityType,
    Contact,
    EngagementEvent,
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


# What each ADR's open plays look like on a fresh `make run`, in order of their plays: the
# first is fresh, the second at risk (reminder sent), the third overdue (its manager told),
# the fourth escalated further up; then one started, one completed, one dismissed.
PLAY_STORIES = ["fresh", "at_risk", "overdue", "escalated", "started", "completed", "dismissed"]


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


def _user(email: str, password: str, *, staff: bool = False, superuser: bool = False):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
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
                manager=owners.get(manager),
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


def _events(rng, accounts, contacts, now: datetime) -> list[EngagementEvent]:
    acts = {a.key: a for a in ActivityType.objects.all()}
    mult = dict(SeniorityMultiplier.objects.values_list("seniority", "multiplier"))
    plain = ["web_visit", "content_download", "webinar_attended", "event_visit"]
    rows = []

    def add(account, contact, key, days_ago):
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


def _shift(play, delta: timedelta) -> None:
    """Move a new play (and its account's qualification) `delta` into the past, as if it
    had been created then: its deadlines, frozen plan, history and first notice."""
    from plays.models import Notice, Play, PlayLogEntry
    from plays.services import first_at

    for entry in play.plan:
        entry["at"] = (datetime.fromisoformat(entry["at"]) - delta).isoformat()
    Play.objects.filter(pk=play.pk).update(
        created_at=play.created_at - delta,
        due_at=play.due_at - delta,
        remind_at=play.remind_at - delta if play.remind_at else None,
        plan=play.plan,
        next_action_at=first_at(play.plan),
    )
    PlayLogEntry.objects.filter(play=play).update(at=F("at") - delta)
    Notice.objects.filter(play=play).update(
        created_at=F("created_at") - delta,
        due_at=F("due_at") - delta,
        next_attempt_at=F("next_attempt_at") - delta,
    )
    transition = play.transition
    type(transition).objects.filter(pk=transition.pk).update(at=F("at") - delta)


def _tell_stories(now: datetime) -> dict[str, int]:
    """Age the demo's new plays so that the first screen tells the story (PLAY_STORIES)."""
    from plays.models import DismissReason, Play, PlayOutcome
    from plays.services import play_complete, play_dismiss, play_start

    counts: dict[str, int] = {}
    by_assignee: dict[int, list] = {}
    for play in (
        Play.objects.filter(status="pending")
        .select_related("policy", "transition", "assignee__user", "account")
        .order_by("pk")
    ):
        by_assignee.setdefault(play.assignee_id, []).append(play)
    reason = DismissReason.objects.filter(is_active=True, adr_may_use=True).first()
    for plays in by_assignee.values():
        for play, story in zip(plays, PLAY_STORIES, strict=False):
            hours = play.policy.response_hours
            ladder = sorted(s.after_hours for s in play.policy.steps.all())
            age = {
                "fresh": timedelta(minutes=20),
                "at_risk": timedelta(hours=hours * 0.85),
                "overdue": timedelta(hours=hours + 2),
                "escalated": timedelta(hours=(ladder[1] if len(ladder) > 1 else hours) + 3),
                "started": timedelta(hours=hours * 0.5),
                "completed": timedelta(hours=hours * 3),
                "dismissed": timedelta(hours=hours * 0.6),
            }[story]
            _shift(play, age)
            play.refresh_from_db()
            by = play.assignee.user
            if story == "started":
                play_start(play=play, by=by, message="", now=play.created_at + age / 2)
            elif story == "completed":
                play_start(play=play, by=by, message="", now=play.created_at + timedelta(hours=2))
                play_complete(
                    play=play,
                    by=by,
                    outcome=PlayOutcome.MEETING_BOOKED,
                    now=play.created_at + timedelta(hours=30),
                )
            elif story == "dismissed" and reason is not None:
                play_dismiss(play=play, by=by, reason=reason, now=now - timedelta(hours=1))
            counts[story] = counts.get(story, 0) + 1
    return counts


def seed_demo(*, password: str = DEFAULT_PASSWORD, now: datetime | None = None) -> SeedResult:
    """Create whatever demo rows are missing; existing rows are left as they are.

    On a fresh database the new plays are aged to show every state at once, and the
    escalation sweep runs, so the reminders and escalations are already in the outbox."""
    from plays.escalation import escalations_sweep

    now = now or timezone.now()
    result = _seed(password=password, now=now)
    if result.stories:
        result.notices_sent = escalations_sweep(now=now).sent
    return result


@transaction.atomic
def _seed(*, password: str, now: datetime) -> SeedResult:
    from plays.models import SLAPolicy

    rng = random.Random(20261124)
    owners = _org(password)
    fallback = owners["manager.east@mqaflow.example"]
    SLAPolicy.objects.filter(fallback_owner__isnull=True).update(fallback_owner=fallback)
    accounts = _accounts(rng, owners)
    contacts = _contacts(rng, accounts)
    fresh = not EngagementEvent.objects.filter(source="demo").exists()
    created = 0
    if fresh:
        events = _events(rng, accounts, contacts, now)
        created = len(EngagementEvent.objects.bulk_create(events, ignore_conflicts=True))
        Account.objects.filter(pk__in=[a.pk for a, _ in accounts]).update(
            last_event_ingested_at=now
        )
    from mqaflow.qualification.engine import accounts_evaluate

    accounts_evaluate(account_ids=[a.pk for a, _ in accounts], now=now)
    stories = _tell_stories(now) if fresh else {}
    return SeedResult(
        owners=Owner.objects.count(),
        accounts=Account.objects.count(),
        contacts=Contact.objects.count(),
        events_created=created,
        mqas=Account.objects.filter(mqa_status="mqa").count(),
        logins=[
            ("admin", ADMIN_EMAIL, password),
            ("manager", "manager.east@mqaflow.example", password),
            ("ADR", "adr1@mqaflow.example", password),
        ],
        stories=stories,
    )
