"""Admin for the org, accounts and engagement; rule admin lives in admin_rules.py."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from . import admin_rulesets  # noqa: F401  (registers the rule set admin)
from .admin_rules import MQATransitionInline
from .directory import account_update, owner_update
from .models import (
    Account,
    ActivityType,
    ApiToken,
    Contact,
    EngagementEvent,
    Opportunity,
    Owner,
    SeniorityMultiplier,
)
from .models.accounts import MQA_STATE_FIELDS
from .models.tokens import SCOPES
from .models.transitions import RecomputeRun
from .tokens import token_issue


class EditedThroughService:
    """An admin edit goes through the entity's update service, like the API's and the
    sync's, so it has the same consequences; a new row is saved as admin saves it, with
    the admin told to the model's signals."""

    def update(self, obj: Any, *, by: Any, changes: dict[str, Any]) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        if not change:
            obj._changed_by = request.user
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        changes = {name: getattr(obj, name) for name in form.changed_data}
        self.update(obj, by=request.user, changes=changes)
        obj.refresh_from_db()


@admin.register(Owner)
class OwnerAdmin(EditedThroughService, SimpleHistoryAdmin):
    list_display = ["name", "email", "title", "manager", "is_active", "weekly_play_capacity"]
    list_filter = ["is_active", "title"]
    search_fields = ["name", "email", "title"]
    autocomplete_fields = ["manager", "delegate", "user"]
    list_select_related = ["manager"]
    readonly_fields = ["accounts_still_owned"]

    @admin.display(description="Accounts still owned")
    def accounts_still_owned(self, obj: Owner) -> str:
        """An inactive owner's accounts route new plays to the fallback owner until they
        get a new owner: list them so an admin can hand them over."""
        if obj.pk is None:
            return "—"
        names = list(obj.accounts.order_by("name").values_list("name", flat=True)[:50])
        total = obj.accounts.count()
        if not names:
            return "None"
        more = f" and {total - len(names)} more" if total > len(names) else ""
        return ", ".join(names) + more

    def update(self, obj: Owner, *, by: Any, changes: dict[str, Any]) -> None:
        """Deactivating an owner moves their open plays on; a manager change is checked
        for cycles."""
        owner_update(owner=obj, by=by, **changes)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["email", "name", "title", "persona", "seniority"]
    show_change_link = True


@admin.register(Account)
class AccountAdmin(EditedThroughService, SimpleHistoryAdmin):
    list_display = [
        "name",
        "domain",
        "funnel",
        "employees",
        "owner",
        "mqa_status",
        "qualified_at",
        "excluded",
    ]
    list_filter = ["funnel", "mqa_status", "excluded", "industry"]
    search_fields = ["name", "domain", "external_id"]
    autocomplete_fields = ["owner"]
    list_select_related = ["owner"]
    readonly_fields = [
        *MQA_STATE_FIELDS,
        "why_not_yet",
        "last_event_ingested_at",
        "last_evaluated_at",
    ]
    inlines = [ContactInline, MQATransitionInline]

    def update(self, obj: Account, *, by: Any, changes: dict[str, Any]) -> None:
        """Excluding or re-segmenting re-evaluates the account; an owner change moves its
        open play."""
        account_update(account=obj, by=by, **changes)

    @admin.display(description="Decision now")
    def why_not_yet(self, obj: Account) -> str:
        """The engine's answer right now ("why is this account not an MQA yet?"); the
        stored explanation above is the one of the last status change."""
        if obj.pk is None:
            return "—"
        from .qualification.engine import account_explain

        decision = account_explain(account=obj, now=timezone.now())
        return f"{decision.get_status_display()}: {decision.explanation}"


@admin.register(RecomputeRun)
class RecomputeRunAdmin(admin.ModelAdmin):
    """What each qualification run covered and changed; written by the engine only."""

    list_display = [
        "started_at",
        "duration_ms",
        "scope",
        "accounts",
        "transitions",
        "cause",
    ]
    list_filter = ["scope", "cause"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in RecomputeRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["email", "name", "account", "persona", "seniority"]
    list_filter = ["persona", "seniority"]
    search_fields = ["email", "name", "account__domain", "account__name"]
    autocomplete_fields = ["account"]
    list_select_related = ["account"]


@admin.register(ActivityType)
class ActivityTypeAdmin(SimpleHistoryAdmin):
    list_display = ["key", "name", "minutes"]
    search_fields = ["key", "name"]


@admin.register(SeniorityMultiplier)
class SeniorityMultiplierAdmin(SimpleHistoryAdmin):
    list_display = ["seniority", "multiplier"]


@admin.register(EngagementEvent)
class EngagementEventAdmin(SimpleHistoryAdmin):
    list_display = ["occurred_at", "account", "contact", "activity", "minutes", "source"]
    list_filter = ["activity", "source"]
    search_fields = ["external_id", "account__domain", "contact__email"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["account", "contact"]
    list_select_related = ["account", "contact", "activity"]
    show_full_result_count = False


@admin.register(Opportunity)
class OpportunityAdmin(SimpleHistoryAdmin):
    """Read-only: the CRM owns its opportunities (a change here would be undone by its next
    sync); each sync's changes are in the history."""

    list_display = [
        "name",
        "account",
        "stage",
        "amount",
        "currency",
        "created_at",
        "closed_at",
        "won",
        "external_id",
    ]
    list_filter = ["stage", "won", "currency", "source"]
    search_fields = ["external_id", "name", "account__domain", "account__name"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ApiTokenForm(forms.ModelForm):
    """Scopes as ticks; the key is generated on save and shown once."""

    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} — {what}") for scope, what in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: the user's own rights (an integration token: ingest and "
        "directory).",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "is_integration", "scopes", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins issue tokens here or with `manage.py api_token issue`; the key is shown once
    on creation and never again (only its digest is stored)."""

    form = ApiTokenForm
    list_display = [
        "name",
        "user",
        "prefix",
        "is_integration",
        "scope_list",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "is_integration"]
    search_fields = ["name", "user__username", "prefix"]
    autocomplete_fields = ["user"]
    exclude = ["key_digest"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.effective_scopes() or ["user's rights"])

    def save_model(self, request, obj, form, change):
        if not change:
            token, key = token_issue(
                user=obj.user,
                name=obj.name,
                scopes=obj.scopes,
                expires_at=obj.expires_at,
                integration=obj.is_integration,
            )
            obj.pk = token.pk  # the admin goes on (log, redirect) with the issued row
            obj.refresh_from_db()
            self.message_user(
                request,
                f"Token {obj.prefix}… created. Its key, shown only now: {key}",
                level=messages.WARNING,
            )
            return
        obj.save()

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
