from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from mqaflow.admin_history import InlineChangesInHistory

from .deadlines import add_sla_hours
from .escalation import notices_retry
from .models import (
    ChatNotice,
    DismissReason,
    EscalationStep,
    Notice,
    NotificationPreference,
    OwnerAbsence,
    Play,
    PlayComment,
    PlayLogEntry,
    PlayTemplate,
    SLAPolicy,
)
from .selectors import pending_plays_of
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


def ladder_errors(response_hours: int | None, steps: list[dict]) -> list[str]:
    """A ladder an admin cannot get wrong silently: hours strictly increase, levels never
    go down, and a step before the SLA deadline must be marked a pre-breach warning."""
    errors = []
    ordered = sorted(steps, key=lambda s: s["after_hours"] or 0)
    hours = [s["after_hours"] for s in ordered]
    if len(set(hours)) != len(hours):
        errors.append("Two steps have the same hours: each step needs its own moment.")
    level: float = 0  # the top of the chain is above every number of levels
    for step in ordered:
        this = float("inf") if step["to_top"] else (step["levels_up"] or 0)
        if this < level:
            errors.append(
                f"The step after {step['after_hours']} h goes down the chain "
                f"({step['levels_up']} level(s) after a higher one): levels never go down."
            )
        level = max(level, this)
        if (
            response_hours is not None
            and step["after_hours"] < response_hours
            and not step["pre_breach_warning"]
        ):
            errors.append(
                f"The step after {step['after_hours']} h comes before the {response_hours} h "
                "deadline: tick 'pre breach warning' if a manager should be warned early."
            )
    return errors


class LadderFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        steps = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        errors = ladder_errors(getattr(self.instance, "response_hours", None), steps)
        if errors:
            raise ValidationError(errors)


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    formset = LadderFormSet
    extra = 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(InlineChangesInHistory, SimpleHistoryAdmin):
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
    inline_history = {"steps": ("after_hours", "levels_up", "to_top", "pre_breach_warning")}

    @admin.display(description="Deadlines in words")
    def preview(self, obj: SLAPolicy) -> str:
        """From the stored policy: a form being corrected may hold an invalid time zone."""
        if not obj.pk:
            return "Save the policy to see its deadlines."
        return policy_preview(SLAPolicy.objects.get(pk=obj.pk))

    @admin.action(description="Re-plan pending plays with this policy's current deadlines")
    def replan_open_plays(self, request, queryset):
        total = sum(plays_replan(policy=policy) for policy in queryset)
        self.message_user(request, f"Re-planned {total} pending play(s).", messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        deadline_fields = {
            "response_hours",
            "reminder_percent",
            "business_hours",
            "time_zone",
            "work_days",
            "work_start",
            "work_end",
            "holiday_country",
            "holiday_subdivision",
        }
        moved = bool(deadline_fields & set(form.changed_data)) or any(
            f.has_changed() for f in formsets
        )
        pending = pending_plays_of(policy=form.instance) if change and moved else 0
        if pending:
            url = reverse("admin:plays_slapolicy_replan", args=[form.instance.pk])
            self.message_user(
                request,
                format_html(
                    "{} pending play(s) keep the deadlines they were created with. "
                    '<a href="{}">Re-plan them with this policy</a>.',
                    pending,
                    url,
                ),
                messages.WARNING,
            )

    def get_urls(self):
        return [
            path(
                "<int:pk>/replan/",
                self.admin_site.admin_view(self.replan_view),
                name="plays_slapolicy_replan",
            ),
            *super().get_urls(),
        ]

    def replan_view(self, request, pk: int):
        """Confirm, then re-plan the policy's pending plays (never started ones)."""
        policy = get_object_or_404(SLAPolicy, pk=pk)
        if not self.has_change_permission(request, policy):
            raise PermissionDenied
        if request.method == "POST":
            total = plays_replan(policy=policy)
            self.message_user(request, f"Re-planned {total} pending play(s).", messages.SUCCESS)
            return redirect("admin:plays_slapolicy_change", pk)
        return render(
            request,
            "admin/plays/slapolicy/replan.html",
            {
                **self.admin_site.each_context(request),
                "policy": policy,
                "pending": pending_plays_of(policy=policy),
                "opts": self.model._meta,
                "title": f"Re-plan pending plays of {policy}",
            },
        )


class NoticeInline(admin.TabularInline):
    model = Notice
    extra = 0
    can_delete = False
    fields = readonly_fields = (
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
    )


class PlayLogEntryInline(admin.TabularInline):
    model = PlayLogEntry
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "from_status", "to_status", "actor", "note")


class PlayCommentInline(admin.TabularInline):
    model = PlayComment
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "author", "body")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # comments are written on the play's page, where mentions are told


@admin.register(Play)
class PlayAdmin(SimpleHistoryAdmin):
    list_display = ["id", "account", "assignee", "status", "created_at", "due_at", "started_at"]
    list_filter = ["status", "outcome", "policy__funnel", "dismissed_reason"]
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
    inlines = [NoticeInline, PlayLogEntryInline, PlayCommentInline]


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Notice._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry failed or unknown notices now")
    def retry_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = notices_retry(notice_ids=ids, now=timezone.now())
        self.message_user(request, f"{count} notice(s) will be retried by the next sweep.")


@admin.register(PlayTemplate)
class PlayTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["name", "funnels", "is_active"]
    list_filter = ["is_active"]


@admin.register(DismissReason)
class DismissReasonAdmin(SimpleHistoryAdmin):
    list_display = ["label", "slug", "is_active", "adr_may_use"]
    list_filter = ["is_active", "adr_may_use"]
    prepopulated_fields = {"slug": ["label"]}


@admin.register(OwnerAbsence)
class OwnerAbsenceAdmin(SimpleHistoryAdmin):
    list_display = ["owner", "starts_at", "ends_at", "delegate", "note"]
    autocomplete_fields = ["owner", "delegate"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Each owner's channels, digest and quiet hours (owners edit their own at
    /notifications/)."""

    list_display = [
        "owner",
        "email",
        "has_slack",
        "has_teams",
        "delivery",
        "time_zone",
        "quiet_start",
        "quiet_end",
    ]
    list_filter = ["email", "delivery"]
    search_fields = ["owner__name", "owner__email"]
    autocomplete_fields = ["owner"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(boolean=True, description="Slack")
    def has_slack(self, obj: NotificationPreference) -> bool:
        return bool(obj.slack_webhook_url)

    @admin.display(boolean=True, description="Teams")
    def has_teams(self, obj: NotificationPreference) -> bool:
        return bool(obj.teams_webhook_url)


@admin.register(ChatNotice)
class ChatNoticeAdmin(admin.ModelAdmin):
    list_display = ["notice", "channel", "status", "attempts", "response_code", "sent_at"]
    list_filter = ["channel", "status"]
    search_fields = ["recipient__email", "notice__play__account__name"]
    readonly_fields = [f.name for f in ChatNotice._meta.fields]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False
