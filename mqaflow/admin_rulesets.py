"""Admin for rule sets: copy the live set into a draft, compare, promote (with a preview).

The views are thin: mqaflow/rulesets.py does the work.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from .models import ActivityWeight, RuleSet, RuleSetStatus, SeniorityWeight
from .qualification.shadow import shadow_reset
from .rulesets import RuleSetError, rule_set_copy, rule_set_diff, rule_set_promote

# The rule changelists a set's page links to, each filtered to the set.
RULE_LISTS = [
    ("MQA rules and clauses", "admin:mqaflow_mqarule_changelist"),
    ("Size bands", "admin:mqaflow_sizeband_changelist"),
    ("Act Now rules", "admin:mqaflow_actnowrule_changelist"),
    ("Bandwidth periods", "admin:mqaflow_bandwidthperiod_changelist"),
]


# Promotion puts every rule and weight of the set in force and rewrites the live weights.
PROMOTE_PERMISSIONS = [
    "mqaflow.change_ruleset",
    "mqaflow.change_mqarule",
    "mqaflow.change_activitytype",
    "mqaflow.change_senioritymultiplier",
]


class WeightInline(admin.TabularInline):
    """A non-live set's own weights; the live set's are the activity types and seniority
    multipliers themselves (what ingest credits events with)."""

    extra = 0

    def has_add_permission(self, request, obj=None):
        return False  # a copy holds a row per activity and seniority; edit their values

    def has_change_permission(self, request, obj=None):
        return obj is not None and obj.status == RuleSetStatus.DRAFT

    def has_delete_permission(self, request, obj=None):
        return False


class ActivityWeightInline(WeightInline):
    model = ActivityWeight
    fields = ["activity", "minutes"]
    readonly_fields = ["activity"]
    verbose_name_plural = "Activity minutes in this set"


class SeniorityWeightInline(WeightInline):
    model = SeniorityWeight
    fields = ["seniority", "multiplier"]
    readonly_fields = ["seniority"]
    verbose_name_plural = "Seniority multipliers in this set"


@admin.register(RuleSet)
class RuleSetAdmin(SimpleHistoryAdmin):
    list_display = ["name", "status", "shadow", "based_on", "created_at", "promoted_at"]
    list_filter = ["status", "shadow"]
    search_fields = ["name", "description"]
    fields = [
        "name",
        "description",
        "status",
        "conversion_days",
        "shadow",
        "based_on",
        "created_at",
        "created_by",
        "promoted_at",
        "promoted_by",
    ]
    readonly_fields = [
        "status",
        "based_on",
        "created_at",
        "created_by",
        "promoted_at",
        "promoted_by",
    ]
    inlines = [ActivityWeightInline, SeniorityWeightInline]
    change_form_template = "admin/mqaflow/ruleset/change_form.html"

    def has_add_permission(self, request):
        return False  # a set starts as a copy ("Copy into a new draft")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == RuleSetStatus.RETIRED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only a draft that was never live: transitions, accounts and plays of the past
        # point at the rules of a live or retired set, and must keep saying which.
        if obj is not None and (obj.status != RuleSetStatus.DRAFT or obj.promoted_at):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one by one, where has_delete_permission says
        return actions

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status == RuleSetStatus.LIVE:
            fields.append("shadow")  # only a draft runs in shadow
        return fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "shadow" in form.changed_data and obj.shadow:
            shadow_reset(rule_set=obj)  # back in shadow: start again from the live statuses

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rule_set = self.get_object(request, object_id)
        extra = {
            "rule_lists": [
                (label, f"{reverse(name)}?rule_set__id__exact={object_id}")
                for label, name in RULE_LISTS
            ],
            "rule_set": rule_set,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/copy/", view(self.copy_view), name="mqaflow_ruleset_copy"),
            path("<int:pk>/diff/", view(self.diff_view), name="mqaflow_ruleset_diff"),
            path("<int:pk>/promote/", view(self.promote_view), name="mqaflow_ruleset_promote"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, rule_set: RuleSet, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "rule_set": rule_set,
            "title": title,
        }

    def copy_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: a new draft copied from this set (any status), then its page."""
        source = get_object_or_404(RuleSet, pk=pk)
        if request.method != "POST" or not self.has_view_permission(request, source):
            raise PermissionDenied
        if not request.user.has_perm("mqaflow.add_ruleset") or not request.user.has_perm(
            "mqaflow.add_mqarule"
        ):
            raise PermissionDenied
        name = (request.POST.get("name") or "").strip()[:200]
        draft = rule_set_copy(source=source, name=name, user=request.user)
        self.message_user(
            request,
            f"“{draft.name}” is a draft copy of “{source.name}”: edit its rules, compare, "
            "backtest, then promote it.",
            messages.SUCCESS,
        )
        return redirect("admin:mqaflow_ruleset_change", draft.pk)

    def diff_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = get_object_or_404(RuleSet, pk=pk)
        if not self.has_view_permission(request, rule_set):
            raise PermissionDenied
        live = RuleSet.objects.live()
        context = self._context(request, rule_set, f"{rule_set.name} compared with the live set")
        context.update(live=live, rows=rule_set_diff(draft=rule_set, live=live))
        return render(request, "admin/mqaflow/ruleset/diff.html", context)

    def promote_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what promoting would do (the promotion itself, rolled back); POST: do it."""
        rule_set = get_object_or_404(RuleSet, pk=pk)
        if not request.user.has_perms(PROMOTE_PERMISSIONS):
            raise PermissionDenied
        try:
            if request.method == "POST":
                done = rule_set_promote(rule_set=rule_set, user=request.user)
                self.message_user(
                    request,
                    f"“{done.rule_set.name}” is live (“{done.previous.name}” retired): "
                    f"{done.status_changes} account(s) changed status, {done.plays} play(s) "
                    "created.",
                    messages.SUCCESS,
                )
                return redirect("admin:mqaflow_ruleset_change", rule_set.pk)
            preview = rule_set_promote(rule_set=rule_set, user=request.user, preview=True)
        except (RuleSetError, IntegrityError) as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:mqaflow_ruleset_change", rule_set.pk)
        context = self._context(request, rule_set, f"Promote {rule_set.name}")
        context.update(preview=preview, rows=rule_set_diff(draft=rule_set))
        return render(request, "admin/mqaflow/ruleset/promote.html", context)
