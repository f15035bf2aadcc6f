from datetime import date, timedelta

from django import forms
from django.utils import timezone

from mqaflow.models import Owner

from .models import DismissReason


class StartForm(forms.Form):
    message = forms.CharField(
        label="Your first-touch email",
        widget=forms.Textarea(attrs={"rows": 12}),
        max_length=20000,
        required=False,
    )


class DismissForm(forms.Form):
    reason = forms.ModelChoiceField(
        queryset=DismissReason.objects.filter(is_active=True), empty_label="Choose a reason…"
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.TextInput)

    def __init__(self, *args, adr_only: bool = False, **kwargs):
        """The assignee sees only the reasons ADRs may use; managers see them all."""
        super().__init__(*args, **kwargs)
        if adr_only:
            self.fields["reason"].queryset = DismissReason.objects.filter(
                is_active=True, adr_may_use=True
            )


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(
        label="Reassign to",
        queryset=Owner.objects.filter(is_active=True).order_by("name"),
        empty_label="Choose an owner…",
    )

    def __init__(self, *args, choices: list[Owner] | None = None, **kwargs):
        """Only the people the actor may hand plays to (their team; admins anyone)."""
        super().__init__(*args, **kwargs)
        if choices is not None:
            self.fields["owner"].queryset = Owner.objects.filter(
                pk__in=[o.pk for o in choices]
            ).order_by("name")


class ReportForm(forms.Form):
    period = forms.ChoiceField(choices=[("week", "Week"), ("month", "Month")], initial="week")
    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["start"] = data.get("start") or today - timedelta(days=90)
        data["end"] = data.get("end") or today
        if data["start"] > data["end"]:
            self.add_error("end", "Must be on or after the start date.")
        elif data["end"] - data["start"] > timedelta(days=3 * 366):
            self.add_error("start", "Choose a range of at most three years.")
        return data

    def range(self) -> tuple[date, date]:
        return self.cleaned_data["start"], self.cleaned_data["end"]
