"""Report (never delete) events stored before the API refused times before 1970.

Such a time (e.g. "0001-01-01T00:00:00+14:00", a BC date in UTC) cannot be read back by
psycopg ("timestamp too small"), which broke the account's event list, the play page and the
admin list. This lists them so an operator can correct them in admin or SQL; it reads only
their ids, never the broken timestamp, and does nothing on a database without any.
"""

from datetime import UTC, datetime

from django.db import migrations

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHOWN = 50


def report(apps, schema_editor):
    EngagementEvent = apps.get_model("mqaflow", "EngagementEvent")
    rows = list(
        EngagementEvent.objects.using(schema_editor.connection.alias)
        .filter(occurred_at__lt=EPOCH)
        .order_by("pk")
        .values_list("pk", "external_id", "account_id")[: SHOWN + 1]
    )
    if not rows:
        return
    more = " (and more)" if len(rows) > SHOWN else ""
    print(
        f"\n  {len(rows[:SHOWN])}{more} engagement event(s) occurred before 1970-01-01 and "
        "are now refused by the API; they were kept. Correct or delete them in admin:"
    )
    for pk, external_id, account_id in rows[:SHOWN]:
        print(f"    event pk={pk} id={external_id!r} account_id={account_id}")


class Migration(migrations.Migration):
    dependencies = [("mqaflow", "0009_recompute_run")]

    operations = [migrations.RunPython(report, migrations.RunPython.noop, elidable=True)]
