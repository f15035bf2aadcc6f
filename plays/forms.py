from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django import forms

from mqaflow.models import Owner
from mqaflow.qualification.reports import REPORT_MAX_DAYS, parse_report_range, report_bounds

from .models import DismissReason, PlayOutcome, PlayStatus
from .reports import DUE_FILTERS, QUEUE_SORTS


class StartForm(forms.Form):
    message = forms.CharField(
        label="Your first-touch email",
        widget=forms.Textarea(attrs={"rows": 12}),
        max_length=20000,
        required=False,
    )


class CompleteForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[("", "Choose the outcome…"), *PlayOutcome.choices],
        error_messages={"required": "Choose the outcome to complete the play."},
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Mention a teammate or manager with @ and their name, e.g. @Maya.",
        error_messages={"required": "Write something to comment."},
    )


class QueueForm(forms.Form):
    """The filters of a play list; anything invalid falls back to the default."""

    status = forms.ChoiceField(
        required=False,
        choices=[
            ("open", "Open"),
            *PlayStatus.choices,
            ("closed", "Completed and dismissed"),
            ("all", "All"),
        ],
    )
    funnel = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "All funnels"), ("1", "Funnel 1"), ("2", "Funnel 2"), ("3", "Funnel 3")],
    )
    due = forms.ChoiceField(required=False, choices=[("", "Any time"), *DUE_FILTERS.items()])
    q = forms.CharField(required=False, max_length=200, label="Search")
    sort = forms.ChoiceField(required=False, choices=list(QUEUE_SORTS.items()))

    def values(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or "open"
        return {
            "status": "" if status == "all" else status,
            "funnel": data.get("funnel"),
            "due": data.get("due") or "",
            "search": (data.get("q") or "").strip(),
            "sort": data.get("sort") or "urgency",
        }


class BoardForm(QueueForm):
    """The team board's filters: the queue's, plus the ADR."""

    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args, owners: Sequence[Owner] = (), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Every ADR")] + [(o.pk, o.name) for o in owners]

    def values(self) -> dict:
        values = super().values()
        values["assignee"] = self.cleaned_data.get("assignee") if self.is_valid() else None
        return values


class BulkForm(forms.Form):
    """Reassign or dismiss the ticked plays of the team board in one go."""

    plays = forms.TypedMultipleChoiceField(
        coerce=int, choices=[], error_messages={"required": "Tick at least one play."}
    )
    action = forms.ChoiceField(choices=[("reassign", "Reassign"), ("dismiss", "Dismiss")])
    owner = forms.ModelChoiceField(
        queryset=Owner.objects.filter(is_active=True), required=False, label="Reassign to"
    )
    reason = forms.ModelChoiceField(
        queryset=DismissReason.objects.filter(is_active=True), required=False, label="Reason"
    )
    note = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, play_ids: Sequence[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["plays"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(pk, pk) for pk in play_ids]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "reassign" and not data.get("owner"):
            self.add_error("owner", "Choose whom to reassign the plays to.")
        if data.get("action") == "dismiss" and not data.get("reason"):
            self.add_error("reason", "Choose a reason to dismiss the plays.")
        return data


class DismissForm(forms.Form):
    reason = forms.ModelChoiceField(
        queryset=DismissReason.objects.filter(is_active=True), empty_label="Choose a reason…"
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.TextInput)

    def __init__(self, *args, adr_only: bool = False, **kwargs):
        """The assignee sees only the reasons ADRs may use; managers see them all."""
        super().__init__(*args, **kwargs)
        if adr_only:
            field = self.fields["reason"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = DismissReason.objects.filter(is_active=True, adr_may_use=True)


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
            field = self.fields["owner"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Owner.objects.filter(pk__in=[o.pk for o in choices]).order_by("name")


class ReportForm(forms.Form):
    period = forms.ChoiceField(choices=[("week", "Week"), ("month", "Month")], initial="week")
    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))

    def clean(self):
        """The shared report range (`parse_report_range`): the last 90 days by default, at
        most three years."""
        data = super().clean() or {}
        bounds, errors = parse_report_range(
            {"start": data.get("start"), "end": data.get("end")},
            names=("start", "end"),
            labels=("the start date", "the end date"),
            defaults=True,
            max_days=REPORT_MAX_DAYS,
        )
        data.update(bounds)
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name, message)
        return data

    def range(self) -> tuple[date, date]:
        return self.cleaned_data["start"], self.cleaned_data["end"]

    def bounds(self) -> tuple[datetime, datetime]:
        """The range as aware datetimes: first moment of the start, first after the end."""
        return report_bounds(*self.range())
