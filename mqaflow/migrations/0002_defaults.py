"""Defaults a fresh database needs to be usable: activity weights, seniority multipliers,
size bands, one MQA rule per funnel and size band, and the two Act Now rules.

Admins tune every one of these in Django admin afterwards; this migration only seeds rows
that do not exist yet, so re-running it (or running it on an edited database) changes nothing.
"""

from decimal import Decimal

from django.db import migrations

ACTIVITIES = [
    ("web_visit", "Web visit", "2"),
    ("content_download", "Content download", "5"),
    ("webinar_attended", "Webinar attended", "30"),
    ("event_visit", "Event visit", "20"),
    ("executive_dinner", "Executive dinner", "60"),
    ("meeting_requested", "Meeting requested", "30"),
    ("demo_request", "Demo request", "30"),
]

MULTIPLIERS = [
    ("c_level", "2"),
    ("vp", "2"),
    ("director", "1.5"),
    ("manager", "1.2"),
    ("individual", "1"),
]

SIZE_BANDS = [
    ("small", "Small (< 200 employees)", 0, 200),
    ("large", "Large (200+ employees)", 200, None),
]

# funnel: (window days, minutes for large companies, people); small companies need half.
FUNNEL_RULES = {
    1: (30, 30, 2),
    2: (60, 60, 2),
    3: (60, 100, 3),
}


def install(apps, schema_editor):
    ActivityType = apps.get_model("mqaflow", "ActivityType")
    SeniorityMultiplier = apps.get_model("mqaflow", "SeniorityMultiplier")
    SizeBand = apps.get_model("mqaflow", "SizeBand")
    MQARule = apps.get_model("mqaflow", "MQARule")
    MQAClause = apps.get_model("mqaflow", "MQAClause")
    ActNowRule = apps.get_model("mqaflow", "ActNowRule")

    for key, name, minutes in ACTIVITIES:
        ActivityType.objects.get_or_create(
            key=key, defaults={"name": name, "minutes": Decimal(minutes)}
        )
    for seniority, multiplier in MULTIPLIERS:
        SeniorityMultiplier.objects.get_or_create(
            seniority=seniority, defaults={"multiplier": Decimal(multiplier)}
        )
    bands = {}
    for slug, name, low, high in SIZE_BANDS:
        bands[slug], _ = SizeBand.objects.get_or_create(
            slug=slug, defaults={"name": name, "min_employees": low, "max_employees": high}
        )
    for funnel, (window, minutes, people) in FUNNEL_RULES.items():
        for slug, band in bands.items():
            needed = Decimal(minutes) / (2 if slug == "small" else 1)
            rule, created = MQARule.objects.get_or_create(
                funnel=funnel,
                size_band=band,
                is_active=True,
                defaults={"name": f"Funnel {funnel} ({slug})"},
            )
            if created:
                MQAClause.objects.create(
                    rule=rule,
                    order=1,
                    name=f"{needed:g} minutes from {people} people in {window} days",
                    window_days=window,
                    min_minutes=needed,
                    min_people=people,
                )
    act_now = [
        ("Demo requested", "demo_request", ""),
        ("Meeting requested by a director or above", "meeting_requested", "director"),
    ]
    for name, key, seniority in act_now:
        ActNowRule.objects.get_or_create(
            name=name,
            defaults={
                "activity": ActivityType.objects.get(key=key),
                "min_people": 1,
                "window_days": 30,
                "min_seniority": seniority,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("mqaflow", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
