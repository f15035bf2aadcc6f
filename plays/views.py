"""The web UI: ADRs work their plays, managers watch their teams, everyone reads reports.

Views are thin: visibility comes from `services.visible_plays`, status changes from the
services, figures from `plays.reports` and `mqaflow.qualification.reports`.
"""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mqaflow.models import EngagementEvent, Funnel
from mqaflow.qualification.reports import new_mqas_by_period

from . import assignment, charts, reports, services
from .forms import DismissForm, ReassignForm, ReportForm, StartForm
from .models import OPEN_STATUSES, Play, PlayStatus
from .templating import first_touch_email

TIMELINE_LIMIT = 200


def _owner(request):
    return getattr(request.user, "owner", None)


@login_required
def home(request):
    owner = _owner(request)
    if owner is not None and owner.reports.exists() and not owner.plays.exists():
        return redirect("plays:team")
    return redirect("plays:my_plays")


@login_required
def my_plays(request):
    owner = _owner(request)
    tab = request.GET.get("tab", "open")
    tab = tab if tab in ("open", "closed", "withdrawn") else "open"
    status = request.GET.get("status", "")
    mine = Play.objects.filter(assignee=owner) if owner else Play.objects.none()
    if tab == "withdrawn":
        plays = (
            reports.with_level(mine.filter(status=PlayStatus.WITHDRAWN))
            .select_related("account", "transition")
            .order_by("-withdrawn_at")[:200]
        )
    elif tab == "closed":
        plays = (
            reports.with_level(mine.exclude(status__in=[*OPEN_STATUSES, PlayStatus.WITHDRAWN]))
            .select_related("account", "transition")
            .order_by("-created_at")[:200]
        )
    else:
        plays = reports.open_plays_by_urgency(mine)
        if status in OPEN_STATUSES:
            plays = plays.filter(status=status)
    return render(
        request,
        "plays/my_plays.html",
        {
            "plays": plays,
            "tab": tab,
            "status": status,
            "now": timezone.now(),
            "open_count": mine.filter(status__in=OPEN_STATUSES).count(),
            "withdrawn_count": mine.filter(status=PlayStatus.WITHDRAWN).count(),
            "kept_drafts": request.session.pop("kept_drafts", []),
        },
    )


def _visible_play(request, pk: int) -> Play:
    """404 for a play the user may not see: no hint that it exists."""
    qs = services.visible_plays(request.user).select_related(
        "account__owner",
        "assignee",
        "transition__rule",
        "transition__clause",
        "transition__act_now_rule",
        "template",
        "policy",
        "dismissed_reason",
    )
    return get_object_or_404(qs, pk=pk)


@login_required
def play_detail(request, pk: int):
    play = _visible_play(request, pk)
    account = play.account
    contacts = list(account.contacts.order_by("persona", "seniority", "name"))
    timeline = (
        EngagementEvent.objects.filter(account=account)
        .select_related("contact", "activity")
        .order_by("-occurred_at")[:TIMELINE_LIMIT]
    )
    subject, body = first_touch_email(play, contacts)
    kept = request.session.pop(f"draft:{play.pk}", None)
    can_work = services.can_work(request.user, play)
    can_manage = services.can_manage(request.user, play)
    history = sorted(
        [("event", e.at, e) for e in play.events.select_related("actor")]
        + [("escalation", e.created_at, e) for e in play.escalations.select_related("recipient")],
        key=lambda item: item[1],
    )
    return render(
        request,
        "plays/play_detail.html",
        {
            "play": play,
            "account": account,
            "contacts": contacts,
            "timeline": timeline,
            "timeline_limit": TIMELINE_LIMIT,
            "history": history,
            "suggested_subject": subject,
            "start_form": StartForm(initial={"message": kept or play.message or body}),
            "kept_text": kept if kept and play.status != PlayStatus.PENDING else "",
            "dismiss_form": DismissForm(adr_only=not can_manage),
            "reassign_form": ReassignForm(choices=assignment.reassign_choices(request.user)),
            "can_work": can_work,
            "can_manage": can_manage,
            "can_reopen": can_manage
            and play.status == PlayStatus.DISMISSED
            and play.dismissed_at is not None
            and timezone.now() - play.dismissed_at <= services.REOPEN_WINDOW,
            "now": timezone.now(),
            "funnel_label": Funnel(account.funnel).label,
        },
    )


def _act(request, pk: int, action, *, draft: str | None = None):
    """Run a play action; if the play changed meanwhile, say what happened (who, when),
    keep the text the user typed, and land on the play, or on the list when the play is
    no longer theirs to see."""
    lost = _play_taken_away(request, pk)
    if lost is not None:  # reassigned out of the user's sight since they opened it
        messages.error(request, services.describe_change(services.last_change(lost), lost))
        if draft:
            _keep_draft(request, lost, draft)
        return redirect("plays:my_plays")
    play = _visible_play(request, pk)
    try:
        action(play)
    except services.PlayPermissionError as exc:
        return HttpResponseForbidden(str(exc))
    except services.PlayTransitionError as exc:
        messages.error(request, str(exc))
        if draft:
            _keep_draft(request, play, draft)
    if not services.visible_plays(request.user).filter(pk=pk).exists():
        request.session.pop(f"draft:{pk}", None)
        owner = _owner(request)
        manages = owner is not None and owner.reports.exists()
        return redirect("plays:team" if manages else "plays:my_plays")
    return redirect("plays:detail", pk=play.pk)


def _play_taken_away(request, pk: int) -> Play | None:
    """A play the user held before and can no longer see (moved to someone else)."""
    if services.visible_plays(request.user).filter(pk=pk).exists():
        return None
    owner = _owner(request)
    if owner is None:
        return None
    return (
        Play.objects.filter(pk=pk, events__from_assignee=owner)
        .select_related("account")
        .distinct()
        .first()
    )


def _keep_draft(request, play: Play, draft: str) -> None:
    """Keep what the user typed: on the play's form, or on the list if they lost it."""
    request.session[f"draft:{play.pk}"] = draft
    drafts = request.session.get("kept_drafts", [])
    request.session["kept_drafts"] = [*drafts, {"account": play.account.name, "text": draft}]


@require_POST
@login_required
def play_start(request, pk: int):
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors["message"]))
        request.session[f"draft:{pk}"] = request.POST.get("message", "")[:40000]
        return redirect("plays:detail", pk=pk)

    def start(play):
        services.play_start(play=play, by=request.user, message=form.cleaned_data["message"])
        messages.success(request, f"Started the play for {play.account.name}. Good luck!")

    return _act(request, pk, start, draft=form.cleaned_data["message"])


@require_POST
@login_required
def play_complete(request, pk: int):
    def complete(play):
        services.play_complete(play=play, by=request.user)
        messages.success(request, f"Completed the play for {play.account.name}.")

    return _act(request, pk, complete)


@require_POST
@login_required
def play_dismiss(request, pk: int):
    form = DismissForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason to dismiss the play.")
        return redirect("plays:detail", pk=pk)

    def dismiss(play):
        services.play_dismiss(
            play=play,
            by=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
        messages.success(request, "Dismissed the play.")

    return _act(request, pk, dismiss)


@require_POST
@login_required
def play_reopen(request, pk: int):
    def reopen(play):
        services.play_reopen(play=play, by=request.user)
        messages.success(
            request, f"Reopened the play for {play.account.name}; a fresh SLA runs from now."
        )

    return _act(request, pk, reopen)


@require_POST
@login_required
def play_reassign(request, pk: int):
    form = ReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an active owner to reassign the play to.")
        return redirect("plays:detail", pk=pk)

    def reassign(play):
        to = form.cleaned_data["owner"]
        assignment.play_reassign(play=play, by=request.user, to_owner=to)
        messages.success(
            request,
            f"Reassigned the {play.account.name} play from {play.assignee.name} to {to.name}; "
            f"{to.name} has been notified.",
        )

    return _act(request, pk, reassign)


@login_required
def team(request):
    owner = _owner(request)
    if owner is None or not owner.reports.exists():
        raise Http404("The team page is for managers.")
    summary = reports.team_summary(owner)
    dismissals = reports.recent_adr_dismissals(owner)
    return render(
        request,
        "plays/team.html",
        {
            "summary": summary,
            "dismissals": dismissals,
            "reopen_days": services.REOPEN_WINDOW.days,
            "now": timezone.now(),
            "totals": {
                "open": sum(s.open for s in summary),
                "at_risk": sum(s.at_risk for s in summary),
                "breached": sum(s.breached for s in summary),
            },
        },
    )


def _bounds(form: ReportForm) -> tuple[datetime, datetime]:
    start, end = form.range()
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end, time.max, tzinfo=tz)


@login_required
def reports_page(request):
    form = ReportForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "plays/reports.html", {"form": form}, status=400)
    if not request.GET:
        today = timezone.localdate()
        form = ReportForm({"period": "week", "start": today - timedelta(days=90), "end": today})
        form.is_valid()
    start, end = _bounds(form)
    period = form.cleaned_data["period"]
    rows = new_mqas_by_period(period=period, start=start.date(), end=end.date())
    plays = Play.objects.all()
    return render(
        request,
        "plays/reports.html",
        {
            "form": form,
            "rows": rows,
            "chart": charts.mqas_chart(rows, period=period),
            "by_funnel": sorted(
                reports.sla_compliance_by("policy__funnel", plays, start, end).items()
            ),
            "by_team": sorted(reports.sla_compliance_by_team(start, end).items()),
            "levels": reports.escalations_per_level(start, end),
            "dismissals": reports.dismissals_by_rule(start, end),
            "query": request.GET.urlencode(),
        },
    )


@login_required
def reports_csv(request):
    form = ReportForm(request.GET or {"period": "week"})
    if not form.is_valid():
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain",
        )
    start, end = form.range()
    rows = new_mqas_by_period(period=form.cleaned_data["period"], start=start, end=end)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="mqas-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow([form.cleaned_data["period"], "funnel", "size_band", "new_mqas"])
    for row in rows:
        writer.writerow([row.period.isoformat(), row.funnel, row.size_band, row.count])
    return response
