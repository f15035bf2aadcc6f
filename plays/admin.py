from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .deadlines import add_sla_hours
from .models import (
    DismissReason,
    Escalation,
    EscalationStep,
    OwnerAbsence,
    Play,
    PlayEvent,
    PlayTemplate,
    SLAPolicy,
)
from .services import plays_replan


def policy_preview(policy: SLAPolicy, start: datetime | None = None) -> str:
    """'A Funnel 1 play created Fri 16:00 breaches Sat 16:00, reaches … Mon 16:00.'"""
    zone = timezone.get_current_timezone()
    if start is None:
        today = timezone.localdate()
        friday = today + timedelta(days=(4 - today.weekday()) % 7)
        start = datetime.combine(friday, datetime.min.time(), tzinfo=zone).replace(hour=16)

    def fmt(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%a %H:%M")

    parts = [
        f"a Funnel {policy.funnel} play created {fmt(start)} breaches "
        f"{fmt(add_sla_hours(start, policy.response_hours, policy=policy))}"
    ]
    for step in policy.steps.order_by("after_hours"):
        who = "the CEO (top of the chain)" if step.to_top else step.target_label
        parts.append(f"reaches {who} {fmt(add_sla_hours(start, step.after_hours, policy=policy))}")
    return ", ".join(parts) + "."


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(SimpleHistoryAdmin):
    list_display = [
        "funnel",
        "response_hours",
        "reminder_percent",
        "business_hours",
        "fallback_owner",
        "version",
        "preview",
    ]
    readonly_fields = ["version", "preview"]
    inlines = [EscalationStepInline]
    actions = ["replan_open_plays"]
    autocomplete_fields = ["fallback_owner"]

    @admin.display(description="Deadlines in words")
    def preview(self, obj: SLAPolicy) -> str:
        return policy_preview(obj) if obj.pk else "Save the policy to see its deadlines."

    @admin.action(description="Re-plan open plays with this policy's current deadlines")
    def replan_open_plays(self, request, queryset):
        total = sum(plays_replan(policy=policy) for policy in queryset)
        self.message_user(request, f"Re-planned {total} open play(s).", messages.SUCCESS)


class EscalationInline(admin.TabularInline):
    model = Escalation
    extra = 0
    can_delete = False
    fields = [
        "step",
        "kind",
        "recipient_email",
        "level",
        "due_at",
        "status",
        "sent_at",
        "attempts",
        "note",
        "last_error",
    ]
    readonly_fields = fields


class PlayEventInline(admin.TabularInline):
    model = PlayEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields


@admin.register(Play)
class PlayAdmin(SimpleHistoryAdmin):
    list_display = ["id", "account", "assignee", "status", "created_at", "due_at", "started_at"]
    list_filter = ["status", "policy__funnel", "dismissed_reason"]
    search_fields = ["account__name", "account__domain", "assignee__name", "assignee__email"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "assignee"]
    readonly_fields = [
        "account",
        "transition",
        "created_at",
        "due_at",
        "remind_at",
        "started_at",
        "completed_at",
        "dismissed_at",
        "policy",
        "policy_version",
        "plan",
        "next_action_at",
        "status",
        "assignee",
    ]
    inlines = [EscalationInline, PlayEventInline]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = [
        "play",
        "step",
        "kind",
        "recipient_email",
        "level",
        "status",
        "due_at",
        "sent_at",
        "attempts",
        "last_error",
    ]
    list_filter = ["status", "kind", "level"]
    search_fields = ["recipient_email", "play__account__name"]
    list_select_related = ["play__account"]
    readonly_fields = [f.name for f in Escalation._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry failed or unknown escalations now")
    def retry_now(self, request, queryset):
        count = queryset.filter(status__in=["failed", "unknown"]).update(
            status="pending", next_attempt_at=timezone.now(), last_error=""
        )
        self.message_user(request, f"{count} escalation(s) will be retried by the next sweep.")


@admin.register(PlayTemplate)
class PlayTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["name", "funnels", "is_active"]
    list_filter = ["is_active"]


@admin.register(DismissReason)
class DismissReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "slug", "is_active"]
    prepopulated_fields = {"slug": ["label"]}


@admin.register(OwnerAbsence)
class OwnerAbsenceAdmin(SimpleHistoryAdmin):
    list_display = ["owner", "starts_at", "ends_at", "delegate", "note"]
    autocomplete_fields = ["owner", "delegate"]
