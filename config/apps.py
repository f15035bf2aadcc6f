"""The project as an installed app: it owns what spans every app, such as the periodic
tasks, which it installs after each `migrate`."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as django_apps
from django.db.models.signals import post_migrate


def _install_schedules(sender: AppConfig, apps: Any = None, **kwargs: Any) -> None:
    # A migrate that stops before django-celery-beat's tables exist has nothing to fill.
    if apps is not None and "django_celery_beat" not in apps.app_configs:
        return
    from config.schedules import schedules_install

    schedules_install()


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "mqaflow project"

    def ready(self) -> None:
        # post_migrate is sent once per app that has models; this one has none, so listen
        # for the app whose tables the schedules are rows of.
        beat = django_apps.get_app_config("django_celery_beat")
        post_migrate.connect(_install_schedules, sender=beat, dispatch_uid="schedules_install")
