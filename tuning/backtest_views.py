"""The backtest pages (staff, in the admin's look). Thin: tuning.backtests does the work."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from mqaflow.models import RuleSet

from .backtests import BacktestError, backtest_csv_rows, backtest_request
from .charts import backtest_chart
from .forms import BacktestForm
from .models import BacktestRun, BacktestStatus


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


@staff_member_required
def backtest_new(request: HttpRequest, rule_set_pk: int) -> HttpResponse:
    """GET: the form and the set's stored runs; POST: a new run, queued, then its page."""
    rule_set = get_object_or_404(RuleSet, pk=rule_set_pk)
    if request.method == "POST" and not request.user.has_perm("tuning.add_backtestrun"):
        raise PermissionDenied("Running a backtest needs the “add backtest run” permission.")
    form = BacktestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = backtest_request(
                rule_set=rule_set, weeks=form.cleaned_data["weeks"], user=request.user
            )
        except BacktestError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect(run)
    status = 400 if request.method == "POST" else 200
    runs = BacktestRun.objects.filter(rule_set=rule_set).select_related("live_set", "created_by")
    context = _context(
        request, f"Backtest {rule_set.name}", rule_set=rule_set, form=form, runs=runs
    )
    return render(request, "tuning/backtest_new.html", context, status=status)


@staff_member_required
def backtest_run(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(BacktestRun.objects.select_related("rule_set", "live_set"), pk=pk)
    chart = backtest_chart(results=run.results) if run.status == BacktestStatus.DONE else ""
    context = _context(request, f"Backtest #{run.pk}: {run.rule_set.name}", run=run, chart=chart)
    return render(request, "tuning/backtest_run.html", context)


@staff_member_required
def backtest_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(BacktestRun, pk=pk)
    return JsonResponse(
        {"id": run.pk, "status": run.status, "progress": run.progress, "error": run.error}
    )


@staff_member_required
def backtest_csv(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(BacktestRun, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="backtest-{run.pk}-mqas.csv"'
    csv.writer(response).writerows(backtest_csv_rows(run=run))
    return response
