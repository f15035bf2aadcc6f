from django.apps import AppConfig


class TuningConfig(AppConfig):
    """The tuning lab: backtests of a rule set on history, the scorecard, the weekly digest."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tuning"

    def ready(self) -> None:
        # Celery autodiscovers `tasks` modules only; the digest's task lives apart.
        from . import digest_tasks  # noqa: F401
