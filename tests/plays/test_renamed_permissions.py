"""Grants survive the renames of the notice and play log models (migration plays 0012)."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from plays.models import Notice, PlayLogEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("plays.migrations.0012_renamed_model_permissions")


def test_a_stale_permission_hands_its_grants_to_the_new_one_and_goes():
    content_type = ContentType.objects.get_for_model(Notice)
    stale = Permission.objects.create(
        content_type=content_type, codename="view_escalation", name="Can view escalation"
    )
    managers = Group.objects.create(name="Managers")
    managers.permissions.add(stale)
    auditor = UserFactory()
    auditor.user_permissions.add(stale)

    migration.rename_permissions(apps, None)

    assert not Permission.objects.filter(codename="view_escalation").exists()
    assert managers.permissions.filter(codename="view_notice").exists()
    auditor = type(auditor).objects.get(pk=auditor.pk)
    assert auditor.has_perm("plays.view_notice")


def test_a_permission_not_yet_created_under_the_new_name_is_renamed_in_place():
    content_type = ContentType.objects.get_for_model(PlayLogEntry)
    Permission.objects.filter(content_type=content_type, codename="change_playlogentry").delete()
    stale = Permission.objects.create(
        content_type=content_type, codename="change_playevent", name="Can change play event"
    )
    editors = Group.objects.create(name="Editors")
    editors.permissions.add(stale)

    migration.rename_permissions(apps, None)

    renamed = Permission.objects.get(pk=stale.pk)
    assert (renamed.codename, renamed.name) == ("change_playlogentry", "Can change play log entry")
    assert list(editors.permissions.all()) == [renamed]
