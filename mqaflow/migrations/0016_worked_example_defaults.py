"""Default rules that qualify the source's worked examples (each at 500 employees):

- Funnel 1: the VP Marketing of a target account attends an executive dinner;
- Funnel 2: a Director of Sales Development and a Demand Gen Manager each download content;
- Funnel 3: a VP reads a guide, a Director attends a webinar, a Manager visits a booth and
  an analyst visits five web pages over a month.

The thresholds 0002 shipped stay as they are (an account qualifying under them still
does); each segment gets one more OR-clause for the shape of engagement its example shows,
and the two activities the examples name but 0002 lacked (a guide, a booth visit) are added.
Every new clause measures the same scope as the existing one (its window, every contact),
so the engine measures nothing more. docs/rules.md explains the defaults.

The data is frozen here: this migration does not call application code. Like 0002 it only
adds rows that do not exist yet (a clause is matched by name on its rule), so an edited
database keeps its edits; the reverse removes the rows it would add.
"""

from decimal import Decimal

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

ACTIVITIES = [
    ("guide_read", "Guide read", "10"),
    ("booth_visit", "Booth visit", "20"),
]

# funnel: (clause name, window days, minutes for large companies, people, personas,
# required seniority); small companies need half the minutes, as in 0002.
CLAUSES = {
    1: ("Senior executive", 30, 60, 1, None, "vp"),
    2: ("Two departments with a director", 60, 12, 2, 2, "director"),
    3: ("Buying group with a VP", 60, 75, 4, None, "vp"),
}
SENIORITY_LABELS = {"vp": "a VP", "director": "a director"}
REASON = "Installed as a default"


def clause_name(funnel: int, small: bool) -> str:
    title, window, minutes, people, personas, seniority = CLAUSES[funnel]
    needed = Decimal(minutes) / (2 if small else 1)
    who = "1 person" if people == 1 else f"{people} people"
    if personas:
        who += f" of {personas} personas"
    return (
        f"{title}: {needed:g} minutes from {who} incl. {SENIORITY_LABELS[seniority]} "
        f"or above in {window} days"
    )


def _history(apps, name, objects) -> None:
    """A first history row, as 0004 of plays gives every other default."""
    try:
        model = apps.get_model("mqaflow", name)
        historical = apps.get_model("mqaflow", f"Historical{name}")
    except LookupError:
        return
    now = timezone.now()
    historical.objects.bulk_create(
        historical(
            **{f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields},
            history_date=now,
            history_type="+",
            history_change_reason=REASON,
        )
        for obj in objects
    )


def install(apps, schema_editor):
    ActivityType = apps.get_model("mqaflow", "ActivityType")
    MQARule = apps.get_model("mqaflow", "MQARule")
    MQAClause = apps.get_model("mqaflow", "MQAClause")

    added_activities = []
    for key, name, minutes in ACTIVITIES:
        activity, created = ActivityType.objects.get_or_create(
            key=key, defaults={"name": name, "minutes": Decimal(minutes)}
        )
        if created:
            added_activities.append(activity)

    added_clauses = []
    for funnel, (_, window, minutes, people, personas, seniority) in CLAUSES.items():
        for slug in ("large", "small"):
            rule = MQARule.objects.filter(
                rule_set__status="live", funnel=funnel, size_band__slug=slug, is_active=True
            ).first()
            name = clause_name(funnel, small=slug == "small")
            if rule is None or MQAClause.objects.filter(rule=rule, name=name).exists():
                continue
            last = MQAClause.objects.filter(rule=rule).aggregate(last=Max("order"))["last"]
            added_clauses.append(
                MQAClause.objects.create(
                    rule=rule,
                    order=(last or 0) + 1,
                    name=name,
                    window_days=window,
                    min_minutes=Decimal(minutes) / (2 if slug == "small" else 1),
                    min_people=people,
                    min_personas=personas,
                    require_seniority=seniority,
                )
            )
    _history(apps, "ActivityType", added_activities)
    _history(apps, "MQAClause", added_clauses)


def uninstall(apps, schema_editor):
    ActivityType = apps.get_model("mqaflow", "ActivityType")
    MQAClause = apps.get_model("mqaflow", "MQAClause")
    for funnel in CLAUSES:
        for slug in ("large", "small"):
            MQAClause.objects.filter(
                rule__rule_set__status="live",
                rule__funnel=funnel,
                rule__size_band__slug=slug,
                name=clause_name(funnel, small=slug == "small"),
            ).delete()
    # An activity some event or Act Now rule already uses stays: deleting it would lose them.
    ActivityType.objects.filter(
        key__in=[key for key, _, _ in ACTIVITIES], events__isnull=True, act_now_rules__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("mqaflow", "0015_opportunities")]

    operations = [migrations.RunPython(install, uninstall)]
