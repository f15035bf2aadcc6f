"""Admin for the rules that decide MQAs, set by set.

Saving a rule of the live set re-evaluates the accounts it covers; a draft's rules are
edited with the same forms but evaluate nothing until the draft is promoted, and a retired
set's rules are read-only. Rule sets themselves (copy, diff, promote) are in
admin_rulesets.py.
"""

from django.contrib import admin, messages
from django.http import QueryDict
from simple_history.admin import SimpleHistoryAdmin

from .admin_history import AdminBase, InlineChangesInHistory
from .models import (
    Account,
    ActNowRule,
    BandwidthPeriod,
    Heartbeat,
    MQAClause,
    MQARule,
    MQATransition,
    RuleSet,
    RuleSetStatus,
    SizeBand,
)
from .qualification.scheduling import recompute_request
from .selectors import rule_accounts


class InRuleSetAdmin(AdminBase):
    """A rule row of one set: listed and filtered by set, read-only once the set is retired;
    a new row joins the set the list was filtered to (else the live one)."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "rule_set"]

    def get_list_filter(self, request):
        return ["rule_set", *super().get_list_filter(request)]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # "Add" from a list filtered to a set carries the filter in _changelist_filters.
        filters = QueryDict(request.GET.get("_changelist_filters", ""))
        wanted = str(
            request.GET.get("rule_set")
            or request.GET.get("rule_set__id__exact")
            or filters.get("rule_set__id__exact")
        )
        found = RuleSet.objects.filter(pk=int(wanted)).first() if wanted.isdigit() else None
        initial.setdefault("rule_set", str((found or RuleSet.objects.live()).pk))
        return initial

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "rule_set"] if obj is not None else fields

    def _edited_set(self, request) -> int | None:
        """The set of the row being edited, or the one a new row starts in."""
        match = request.resolver_match
        object_id = match.kwargs.get("object_id") if match else None
        if object_id:
            found = self.model.objects.filter(pk=object_id).values_list("rule_set_id", flat=True)
            return found.first()
        wanted = self.get_changeform_initial_data(request).get("rule_set")
        return int(wanted) if wanted else None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rule_set":
            kwargs["queryset"] = RuleSet.objects.exclude(status=RuleSetStatus.RETIRED)
        if db_field.name == "size_band":  # every set has its own bands, named alike
            kwargs["queryset"] = SizeBand.objects.filter(rule_set_id=self._edited_set(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.rule_set.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.rule_set.is_editable:
            return False
        return super().has_delete_permission(request, obj)


class RecomputeOnSave(InRuleSetAdmin):
    """After an admin edit of the live set commits, re-evaluate the affected accounts (in
    the worker); a draft's edits touch nothing live."""

    def affected(self, obj):
        return Account.objects.all()

    def _recompute(self, request, obj):
        if not obj.rule_set.is_live:
            self.message_user(
                request,
                f"Saved in the draft “{obj.rule_set.name}”: nothing is re-evaluated until "
                "it is promoted.",
                messages.INFO,
            )
            return
        ids = list(self.affected(obj).values_list("pk", flat=True))
        recompute_request(account_ids=ids, cause=f"rule change by {request.user.get_username()}")
        self.message_user(
            request, f"{len(ids)} account(s) will be re-evaluated with the new rule.", messages.INFO
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        self._recompute(request, form.instance)

    def delete_model(self, request, obj):
        live = obj.rule_set.is_live
        ids = list(self.affected(obj).values_list("pk", flat=True)) if live else []
        super().delete_model(request, obj)
        recompute_request(account_ids=ids, cause=f"rule change by {request.user.get_username()}")


# A clause's fields as the admin groups them; the rule's history lists changes to the same.
CLAUSE_FIELDS: list[tuple[str | None, list[str]]] = [
    (None, ["order", "name"]),
    ("Which engagement counts", ["window_days", "personas", "min_seniority"]),
    (
        "Thresholds (all that are set must hold)",
        [
            "min_minutes",
            "min_people",
            "min_personas",
            "min_events",
            "require_seniority",
            "min_qualified_leads",
            "lead_minutes",
        ],
    ),
]


class MQAClauseInline(admin.StackedInline):
    model = MQAClause
    extra = 0
    fieldsets = [(title, {"fields": tuple(names)}) for title, names in CLAUSE_FIELDS]


@admin.register(MQARule)
class MQARuleAdmin(InlineChangesInHistory, RecomputeOnSave, SimpleHistoryAdmin):
    list_display = ["name", "funnel", "size_band", "is_active", "updated_at"]
    list_filter = ["is_active", "funnel", "size_band"]
    search_fields = ["name"]
    inlines = [MQAClauseInline]
    inline_history = {"clauses": tuple(name for _, names in CLAUSE_FIELDS for name in names)}

    def affected(self, obj):
        return rule_accounts(rule=obj)


@admin.register(ActNowRule)
class ActNowRuleAdmin(RecomputeOnSave, SimpleHistoryAdmin):
    list_display = ["name", "activity", "min_people", "window_days", "min_seniority", "is_active"]
    list_filter = ["is_active", "activity"]


@admin.register(SizeBand)
class SizeBandAdmin(RecomputeOnSave, SimpleHistoryAdmin):
    list_display = ["name", "slug", "min_employees", "max_employees"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(BandwidthPeriod)
class BandwidthPeriodAdmin(RecomputeOnSave, SimpleHistoryAdmin):
    list_display = ["name", "starts_on", "ends_on", "factor"]


@admin.register(MQATransition)
class MQATransitionAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "account",
        "from_status",
        "to_status",
        "cause",
        "funnel",
        "size_band",
        "rule",
    ]
    list_filter = ["to_status", "cause", "funnel", "size_band", "rule"]
    search_fields = ["account__domain", "account__name", "explanation"]
    date_hierarchy = "at"
    list_select_related = ["account", "rule"]
    readonly_fields = [f.name for f in MQATransition._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MQATransitionInline(admin.TabularInline):
    model = MQATransition
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "at",
        "from_status",
        "to_status",
        "cause",
        "rule",
        "act_now_rule",
        "explanation",
    )
    ordering = ["-at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """Liveness of the periodic jobs: a stale `last ok` means beat or the worker is down."""

    list_display = ["name", "last_started_at", "last_ok_at", "last_error_at", "last_error"]
    readonly_fields = ["name", "last_started_at", "last_ok_at", "last_error", "last_error_at"]

    def has_add_permission(self, request):
        return False
