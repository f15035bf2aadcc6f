"""Defaults get a first history row (so the first edit in admin shows before and after),
ADRs may use the shipped dismiss reasons, and the first-touch email template loses the
internal scoring sentence ({engagement}/{explanation}), which must never reach a prospect.

The data is frozen here: this migration does not call application code."""

import re

from django.db import migrations
from django.utils import timezone

# (app, model) of every default installed by a data migration, with history enabled.
DEFAULTS = [
    ("mqaflow", "ActivityType"),
    ("mqaflow", "SeniorityMultiplier"),
    ("mqaflow", "SizeBand"),
    ("mqaflow", "MQARule"),
    ("mqaflow", "MQAClause"),
    ("mqaflow", "ActNowRule"),
    ("plays", "SLAPolicy"),
    ("plays", "EscalationStep"),
    ("plays", "PlayTemplate"),
    ("plays", "DismissReason"),
]
ADR_REASONS = ["wrong-fit", "already-in-deal", "bad-data", "duplicate"]
INTERNAL_PLACEHOLDERS = re.compile(r"[ \t]*\{(engagement|explanation)\}[ \t]*\n?")


def first_history_rows(apps, schema_editor):
    now = timezone.now()
    for app_label, name in DEFAULTS:
        try:
            model = apps.get_model(app_label, name)
            historical = apps.get_model(app_label, f"Historical{name}")
        except LookupError:
            continue
        with_history = set(historical.objects.values_list("id", flat=True).distinct())
        rows = []
        for obj in model.objects.exclude(pk__in=with_history):
            values = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
            rows.append(
                historical(
                    **values,
                    history_date=now,
                    history_type="+",
                    history_change_reason="Installed as a default",
                )
            )
        historical.objects.bulk_create(rows)


def adr_reasons_and_prospect_email(apps, schema_editor):
    DismissReason = apps.get_model("plays", "DismissReason")
    DismissReason.objects.filter(slug__in=ADR_REASONS).update(adr_may_use=True)
    PlayTemplate = apps.get_model("plays", "PlayTemplate")
    for template in PlayTemplate.objects.all():
        body = INTERNAL_PLACEHOLDERS.sub("", template.email_body)
        subject = INTERNAL_PLACEHOLDERS.sub("", template.email_subject)
        if (body, subject) != (template.email_body, template.email_subject):
            template.email_body, template.email_subject = body, subject
            template.save(update_fields=["email_body", "email_subject"])


def install(apps, schema_editor):
    adr_reasons_and_prospect_email(apps, schema_editor)
    first_history_rows(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("plays", "0003_follow_account_and_org"),
        ("mqaflow", "0007_follow_account_and_org"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
