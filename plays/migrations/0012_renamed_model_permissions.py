"""Permissions follow the renamed models: `*_escalation` → `*_notice` and `*_playevent` →
`*_playlogentry`, keeping every group's and user's grants. Django renames the content type
with the model but leaves the permission codenames as they were, and would create the new
ones beside them, empty: a group that could view escalations would silently lose the right
to view notices. If the new permission already exists (created after an earlier migrate),
the grants move to it and the old one goes."""

from django.db import migrations

RENAMES = {"notice": ("escalation", "notice"), "playlogentry": ("playevent", "play log entry")}
ACTIONS = ("add", "change", "delete", "view")


def rename_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model, (old, verbose) in RENAMES.items():
        content_type = ContentType.objects.filter(app_label="plays", model=model).first()
        if content_type is None:  # a fresh database: post_migrate creates the new ones
            continue
        for action in ACTIONS:
            stale = Permission.objects.filter(
                content_type=content_type, codename=f"{action}_{old}"
            ).first()
            if stale is None:
                continue
            current = Permission.objects.filter(
                content_type=content_type, codename=f"{action}_{model}"
            ).first()
            if current is None:
                stale.codename = f"{action}_{model}"
                stale.name = f"Can {action} {verbose}"
                stale.save(update_fields=["codename", "name"])
                continue
            current.group_set.add(*stale.group_set.all())
            current.user_set.add(*stale.user_set.all())
            stale.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("plays", "0011_placeholder_help"),
    ]

    operations = [migrations.RunPython(rename_permissions, migrations.RunPython.noop)]
