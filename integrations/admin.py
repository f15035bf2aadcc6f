"""Admin for webhook endpoints and their delivery log (with "resend")."""

from django import forms
from django.contrib import admin

from .models import EVENT_TYPES, DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint
from .services import deliveries_resend, endpoint_enable


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "event_types", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "is_active", "failing_since", "disabled_at", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and obj.is_active:
            endpoint_enable(endpoint=obj, by=request.user)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ("at", "outcome", "response_code", "duration_ms", "error")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_response_code",
        "created_at",
        "delivered_at",
        "next_attempt_at",
    ]
    list_filter = ["endpoint", "status", "event__type"]
    search_fields = ["event__event_id", "endpoint__name"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "delivered_at",
        "last_response_code",
        "last_error",
        "created_at",
        "retry_from",
        "payload",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="event id")
    def event_id(self, obj: WebhookDelivery) -> str:
        return str(obj.event.event_id)

    @admin.display(description="payload")
    def payload(self, obj: WebhookDelivery) -> str:
        import json

        return json.dumps(obj.event.envelope(), indent=2)

    @admin.action(description="Resend the selected deliveries (same event id)")
    def resend(self, request, queryset):
        count = deliveries_resend(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} deliveries again.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    """The delivery log: every HTTP attempt, per endpoint."""

    list_display = ["at", "endpoint", "delivery", "outcome", "response_code", "duration_ms"]
    list_filter = ["endpoint", "outcome", "response_code"]
    list_select_related = ["endpoint", "delivery__event"]
    readonly_fields = ["delivery", "endpoint", "at", "outcome", "response_code", "duration_ms"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "type", "event_id"]
    list_filter = ["type"]
    search_fields = ["event_id"]
    readonly_fields = ["event_id", "type", "created_at", "data"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
