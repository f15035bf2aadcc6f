"""One word per concept: `Escalation` rows hold every notice (new play, reminder,
escalation step, mention), so the model is `Notice`; `PlayEvent` is the play's log, so it
is `PlayLogEntry` (an "event" is what an account's people do). Tables are renamed in
place: no row is copied or lost. The API keeps its JSON names (`escalations`)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mqaflow", "0003_periodic_tasks"),
        ("plays", "0009_chat_notices_sweep_schedule"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel(old_name="Escalation", new_name="Notice"),
        migrations.RenameModel(old_name="PlayEvent", new_name="PlayLogEntry"),
        migrations.RenameIndex(
            model_name="notice", new_name="notice_undelivered", old_name="escalation_undelivered"
        ),
        migrations.AlterField(
            model_name="notice",
            name="play",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notices",
                to="plays.play",
            ),
        ),
        migrations.AlterField(
            model_name="notice",
            name="kind",
            field=models.CharField(
                choices=[
                    ("assigned", "New play"),
                    ("reminder", "Reminder"),
                    ("escalation", "Escalated"),
                    ("mention", "Mention"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="playlogentry",
            name="play",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="log_entries",
                to="plays.play",
            ),
        ),
        migrations.AlterModelOptions(
            name="playlogentry",
            options={"ordering": ["at", "pk"], "verbose_name_plural": "play log entries"},
        ),
        # The unique constraint names the field: dropped before the rename and created
        # again after it, so SQLite (which rebuilds the table on a rename) can follow too.
        migrations.RemoveConstraint(model_name="chatnotice", name="one_chat_notice_per_channel"),
        migrations.RenameField(model_name="chatnotice", old_name="escalation", new_name="notice"),
        migrations.AlterModelOptions(
            name="chatnotice", options={"ordering": ["notice", "channel"]}
        ),
        migrations.AddConstraint(
            model_name="chatnotice",
            constraint=models.UniqueConstraint(
                fields=("notice", "channel"), name="one_chat_notice_per_channel"
            ),
        ),
    ]
