"""The tuning lab's pages: thin, the figures are in scorecard.py and digest.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mqaflow.qualification.reports import REPORT_MAX_DAYS, parse_report_range, report_bounds

from . import digest, scorecard

FIELD_LABELS = {"from": "From", "to": "To"}


def _allowed(request: HttpRequest) -> None:
    if not scorecard.can_tune(user=request.user):
        raise PermissionDenied("The tuning lab is for staff and managers.")


@login_required
def scorecard_page(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    bounds, errors = parse_report_range(
        request.GET,
        names=("from", "to"),
        labels=("the from date", "the to date"),
        defaults=True,
        max_days=REPORT_MAX_DAYS,
    )
    context: dict = {
        "first": bounds.get("from"),
        "last": bounds.get("to"),
        "raw": {name: request.GET.get(name, "") for name in FIELD_LABELS},
        "subscribed": digest.digest_subscribed(user=request.user),
        "bands": [scorecard.band_label(i) for i in range(len(scorecard.MINUTES_BANDS))],
    }
    if errors:
        context["errors"] = [
            f"{FIELD_LABELS[name]}: {message}"
            for name, found in errors.items()
            for message in found
        ]
        return render(request, "tuning/scorecard.html", context, status=400)
    first, last = bounds["from"], bounds["to"]
    assert first is not None and last is not None  # filled by `defaults`
    start, end = report_bounds(first, last)
    context["scores"] = scorecard.scorecard_build(start=start, end=end)
    return render(request, "tuning/scorecard.html", context)


@require_POST
@login_required
def digest_toggle(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    on = digest.digest_subscribe(user=request.user, on=request.POST.get("subscribe") == "1")
    messages.success(
        request,
        "You will get the weekly tuning digest on Monday mornings."
        if on
        else "You will no longer get the weekly tuning digest.",
    )
    return redirect("tuning:scorecard")
