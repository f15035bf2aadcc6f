from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    """Stored backtest runs; a run is requested from its rule set's page ("Backtest…")."""

    list_display = [
        "id",
        "rule_set",
        "weeks",
        "start",
        "status",
        "progress",
        "created_at",
        "results_link",
    ]
    list_filter = ["status", "rule_set"]
    list_select_related = ["rule_set", "live_set", "created_by"]
    date_hierarchy = "created_at"
    fields = readonly_fields = tuple(
        f.name for f in BacktestRun._meta.fields if f.name != "results"
    )

    @admin.display(description="Results")
    def results_link(self, obj: BacktestRun) -> str:
        return format_html('<a href="{}">Open</a>', reverse("tuning:backtest_run", args=[obj.pk]))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
