"""The "Notifications" page: an owner chooses their own channels, digest and quiet hours."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from .models import NotificationPreference
from .selectors import notification_preference


class NotificationPreferenceForm(forms.ModelForm):
    slack_webhook_url = forms.URLField(
        label="Slack incoming-webhook URL", required=False, max_length=500, assume_scheme="https"
    )
    teams_webhook_url = forms.URLField(
        label="Microsoft Teams incoming-webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
    )

    class Meta:
        model = NotificationPreference
        fields = [
            "email",
            "slack_webhook_url",
            "teams_webhook_url",
            "delivery",
            "digest_hour",
            "time_zone",
            "quiet_start",
            "quiet_end",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


@login_required
def notifications(request):
    owner = getattr(request.user, "owner", None)
    if owner is None:
        raise Http404("Notification preferences are for owners.")
    pref = notification_preference(owner=owner)
    form = NotificationPreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your notification preferences are saved.")
        return redirect("plays:notifications")
    return render(request, "plays/notifications.html", {"form": form})
