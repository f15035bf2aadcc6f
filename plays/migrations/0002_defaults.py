"""Default SLA policies, escalation ladders, a play template, dismiss reasons and the
every-minute escalation sweep. Only missing rows are created; admins edit them afterwards."""

from django.db import migrations

POLICIES = {
    # funnel: (response hours, [(after hours, levels up, to top)])
    1: (24, [(24, 1, False), (48, 2, False), (72, None, True)]),
    2: (48, [(48, 1, False), (72, None, True)]),
    3: (48, [(48, 1, False), (72, None, True)]),
}

REASONS = [
    ("wrong-fit", "Wrong fit"),
    ("already-in-deal", "Already in a deal"),
    ("bad-data", "Bad data"),
    ("duplicate", "Duplicate account"),
]

TEMPLATE_BODY = """Hi {contact_name},

I noticed your team at {account} has been looking into how we help companies like yours.
{engagement}

Would a 20-minute call next week be useful to compare notes?

Best,
{assignee}"""

INSTRUCTIONS = """1. Read why the account qualified and who engaged (timeline below).
2. Pick the most senior engaged contact in a key persona.
3. Personalise the first-touch email and send it from your mailbox.
4. Start the play here so your manager is not escalated to.
5. Complete it once the first meeting is booked or the account is clearly not ready."""

# Frozen: the rows as they were when this migration was written; the live list is
# config/schedules.py (PERIODIC_TASKS), installed the same way by `schedules_install`.
SCHEDULE = [("Escalation sweep", "plays.tasks.escalations_sweep_task", 60)]


def install(apps, schema_editor):
    SLAPolicy = apps.get_model("plays", "SLAPolicy")
    EscalationStep = apps.get_model("plays", "EscalationStep")
    DismissReason = apps.get_model("plays", "DismissReason")
    PlayTemplate = apps.get_model("plays", "PlayTemplate")
    for funnel, (hours, steps) in POLICIES.items():
        policy, created = SLAPolicy.objects.get_or_create(
            funnel=funnel, defaults={"response_hours": hours, "reminder_percent": 75}
        )
        if created:
            for after, levels, top in steps:
                EscalationStep.objects.create(
                    policy=policy, after_hours=after, levels_up=levels, to_top=top
                )
    for slug, label in REASONS:
        DismissReason.objects.get_or_create(slug=slug, defaults={"label": label})
    PlayTemplate.objects.get_or_create(
        name="First touch",
        defaults={
            "funnels": [],
            "instructions": INSTRUCTIONS,
            "email_subject": "{account} and {contact_name}: a quick idea",
            "email_body": TEMPLATE_BODY,
        },
    )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in SCHEDULE:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("plays", "0001_initial"),
        ("mqaflow", "0003_periodic_tasks"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
