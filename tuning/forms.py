from django import forms

from .models import MAX_WEEKS


class BacktestForm(forms.Form):
    weeks = forms.IntegerField(
        min_value=1,
        max_value=MAX_WEEKS,
        initial=13,
        help_text="Whole weeks (Monday to Sunday) before this one.",
    )
