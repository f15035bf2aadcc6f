"""The web UI: ADRs work their plays, managers watch their teams, everyone reads reports.

Views are thin: visibility and permissions come from `plays.selectors`, status changes from the
services, figures from `plays.reports` and `mqaflow.qualification.reports`.
"""

from __future__ import annotations

import csv
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mqaflow.models import Funnel, Owner
from mqaflow.selectors import ACCOUNT_OPPORTUNITIES_SHOWN, account_opportunities, new_mqas_by_period

from . import assignment, charts, reports, selectors, services
from .forms import (
    BoardForm,
    BulkForm,
    CommentForm,
    CompleteForm,
    DismissForm,
    QueueForm,
    ReassignForm,
    ReportForm,
    StartForm,
)
from .models import Play, PlayOutcome, PlayStatus
from .templating import first_touch_email

TIMELINE_LIMIT = selectors.TIMELINE_LIMIT


def _errors(form: Form, name: str) -> str:
    """A field's errors as one sentence for a flash message."""
    return "; ".join(str(message) for message in form.errors[name])


def _owner(request):
    return getattr(request.user, "owner", None)


@login_required
def home(request):
    """ADRs land on their queue, managers on their team, staff with no plays of their own
    on the organisation's overview (never an empty "My plays")."""
    owner = _owner(request)
    has_plays = selectors.has_plays(owner=owner)
    if selectors.is_manager(owner=owner) and not has_plays:
        return redirect("plays:team")
    if request.user.is_staff and not has_plays:
        return redirect("plays:overview")
    return redirect("plays:my_plays")


@login_required
def overview(request):
    """Staff: open, at-risk and breached plays across the org and the periodic jobs."""
    if not request.user.is_staff:
        raise Http404("The overview is for admins.")
    now = timezone.now()
    return render(
        request,
        "plays/overview.html",
        {
            "totals": reports.org_overview(now=now),
            "beats": selectors.heartbeats_by_name(),
            "jobs": [
                ("recompute_all", "Last full recompute"),
                ("recompute_pending", "Last catch-up recompute"),
                ("escalations_sweep", "Last escalation sweep"),
            ],
            "now": now,
        },
    )


def _queue_context(qs, form, *, now):
    values = form.values()
    plays = reports.queue(
        qs=qs,
        now=now,
        status=values["status"],
        funnel=values["funnel"],
        due=values["due"],
        search=values["search"],
        sort=values["sort"],
    )
    return values, plays


@login_required
def my_plays(request):
    """The ADR's queue: filters with counts, a search, three sorts and the next step."""
    owner = _owner(request)
    now = timezone.now()
    params = request.GET.copy()
    if params.get("tab") == "closed":  # links from earlier releases
        params.setdefault("status", "closed")
    elif params.get("tab") == "withdrawn":
        params.setdefault("status", "withdrawn")
    form = QueueForm(params)
    mine = selectors.owner_plays(owner=owner)
    values, plays = _queue_context(mine, form, now=now)
    return render(
        request,
        "plays/my_plays.html",
        {
            "form": form,
            "values": values,
            "plays": plays[:QUEUE_LIMIT],
            "counts": reports.queue_counts(qs=mine, now=now),
            "statuses": [("open", "Open"), *PlayStatus.choices],
            "due_filters": reports.DUE_FILTERS,
            "sorts": reports.QUEUE_SORTS,
            "query": _query_without(params, "status", "due", "funnel"),
            "now": now,
            "kept_drafts": request.session.pop("kept_drafts", []),
        },
    )


QUEUE_LIMIT = 200


def _query_without(params, *names) -> str:
    """The current query string without some parameters (for filter links)."""
    q = params.copy()
    for name in (*names, "tab"):
        q.pop(name, None)
    return q.urlencode()


def _visible_play(request, pk: int) -> Play:
    """404 for a play the user may not see: no hint that it exists."""
    return get_object_or_404(selectors.plays_for_page(user=request.user), pk=pk)


@login_required
def play_detail(request, pk: int):
    play = _visible_play(request, pk)
    account = play.account
    contacts = list(selectors.account_contacts(account=account))
    timeline = selectors.engagement_timeline(account=account, limit=TIMELINE_LIMIT)
    subject, body = first_touch_email(play=play, contacts=contacts)
    kept = request.session.pop(f"draft:{play.pk}", None)
    can_work = selectors.can_work(user=request.user, play=play)
    can_manage = selectors.can_manage(user=request.user, play=play)
    comments = selectors.play_comments(play=play)
    history = selectors.play_history(play=play, timeline=timeline, comments=comments)
    return render(
        request,
        "plays/play_detail.html",
        {
            "play": play,
            "account": account,
            "contacts": contacts,
            "opportunities": account_opportunities(account=account),
            "opportunities_limit": ACCOUNT_OPPORTUNITIES_SHOWN,
            "timeline": timeline,
            "timeline_limit": TIMELINE_LIMIT,
            "history": history,
            "suggested_subject": subject,
            "start_form": StartForm(initial={"message": kept or play.message or body}),
            "kept_text": kept if kept and play.status != PlayStatus.PENDING else "",
            "dismiss_form": DismissForm(adr_only=not can_manage),
            "complete_form": CompleteForm(),
            "comment_form": CommentForm(),
            "comments": comments,
            "mentionable": selectors.mention_candidates(play=play),
            "reassign_form": ReassignForm(choices=selectors.reassign_choices(user=request.user)),
            "can_work": can_work,
            "can_manage": can_manage,
            "can_reopen": can_manage
            and selectors.can_reopen(user=request.user, play=play, now=timezone.now()),
            "now": timezone.now(),
            "funnel_label": Funnel(account.funnel).label,
        },
    )


def _act(request, pk: int, action, *, draft: str | None = None):
    """Run a play action; if the play changed meanwhile, say what happened (who, when),
    keep the text the user typed, and land on the play, or on the list when the play is
    no longer theirs to see."""
    lost = selectors.play_taken_away(user=request.user, pk=pk)
    if lost is not None:  # reassigned out of the user's sight since they opened it
        entry = selectors.last_change(play=lost)
        messages.error(request, selectors.describe_change(entry=entry, play=lost))
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
    if not selectors.can_see(user=request.user, pk=pk):
        request.session.pop(f"draft:{pk}", None)
        manages = selectors.is_manager(owner=_owner(request))
        return redirect("plays:team" if manages else "plays:my_plays")
    return redirect("plays:detail", pk=play.pk)


def _keep_draft(request, play: Play, draft: str) -> None:
    """Keep what the user typed: on the play's form, or on the list if they lost it."""
    request.session[f"draft:{play.pk}"] = draft
    drafts = request.session.get("kept_drafts", [])
    request.session["kept_drafts"] = [*drafts, {"account": play.account.name, "text": draft}]


@require_POST
@login_required
def play_start(request, pk: int):
    """Start with the typed email, or (the queue's "s" key) with the drafted one."""
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form, "message"))
        request.session[f"draft:{pk}"] = request.POST.get("message", "")[:40000]
        return redirect("plays:detail", pk=pk)
    use_draft = request.POST.get("draft") == "1"

    def start(play):
        message = form.cleaned_data["message"]
        if use_draft:
            message = selectors.draft_message(play=play)
        services.play_start(play=play, by=request.user, message=message)
        messages.success(request, f"Started the play for {play.account.name}. Good luck!")

    response = _act(request, pk, start, draft=form.cleaned_data["message"])
    if use_draft and request.POST.get("next") == "queue":
        return redirect("plays:my_plays")
    return response


@require_POST
@login_required
def play_complete(request, pk: int):
    form = CompleteForm(request.POST)
    if not form.is_valid():
        play = _visible_play(request, pk)  # who may not see or complete it learns nothing more
        if not selectors.can_work(user=request.user, play=play):
            return HttpResponseForbidden("Only the assignee can complete this play.")
        messages.error(request, _errors(form, "outcome"))
        return redirect("plays:detail", pk=pk)

    def complete(play):
        outcome = form.cleaned_data["outcome"]
        services.play_complete(play=play, by=request.user, outcome=outcome)
        label = PlayOutcome(outcome).label
        messages.success(request, f"Completed the play for {play.account.name}: {label}.")

    return _act(request, pk, complete)


@require_POST
@login_required
def play_comment(request, pk: int):
    play = _visible_play(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form, "body"))
        return redirect("plays:detail", pk=pk)
    try:
        comment = services.play_comment(play=play, by=request.user, body=form.cleaned_data["body"])
    except services.PlayPermissionError as exc:
        return HttpResponseForbidden(str(exc))
    except services.PlayTransitionError as exc:
        messages.error(request, str(exc))
        return redirect("plays:detail", pk=pk)
    told = [o.name for o in comment.mentions.all()]
    messages.success(
        request, "Comment added" + (f"; {', '.join(told)} will be told." if told else ".")
    )
    return redirect(f"{play.get_absolute_url()}#comments")


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


def _team_manager(request) -> tuple[bool, Owner | None]:
    """(may see the board, whose team): managers their subtree, staff the whole org."""
    owner = _owner(request)
    if selectors.is_manager(owner=owner):
        return True, owner
    if request.user.is_staff:
        return True, None
    return False, None


@login_required
def team(request):
    allowed, manager = _team_manager(request)
    if not allowed:
        raise Http404("The team page is for managers.")
    now = timezone.now()
    summary = reports.team_summary(manager=manager, now=now)
    owners = [row.owner for row in summary]
    form = BoardForm(request.GET, owners=owners)
    values = form.values()
    qs = selectors.team_plays(manager=manager, assignee=values["assignee"])
    _, plays = _queue_context(qs, form, now=now)
    dismissals = reports.recent_adr_dismissals(manager=manager, now=now)
    return render(
        request,
        "plays/team.html",
        {
            "summary": summary,
            "whole_org": manager is None,
            "form": form,
            "values": values,
            "plays": plays[:QUEUE_LIMIT],
            "dismissals": dismissals,
            "reopen_days": selectors.REOPEN_WINDOW.days,
            "reassign_form": ReassignForm(choices=selectors.reassign_choices(user=request.user)),
            "dismiss_form": DismissForm(),
            "now": now,
            "totals": {
                "open": sum(s.open for s in summary),
                "at_risk": sum(s.at_risk for s in summary),
                "breached": sum(s.breached for s in summary),
            },
        },
    )


@require_POST
@login_required
def team_bulk(request):
    """Reassign or dismiss the ticked plays, each through its own service call: one play
    that changed meanwhile does not stop the others, and the message names it."""
    allowed, manager = _team_manager(request)
    if not allowed:
        raise Http404("The team page is for managers.")
    visible = selectors.team_visible_plays(user=request.user, manager=manager)
    form = BulkForm(request.POST, play_ids=list(visible.values_list("pk", flat=True)))
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for field in form.errors.values() for e in field))
        return redirect("plays:team")
    data = form.cleaned_data
    done, failed = [], []
    for play in selectors.chosen_plays(qs=visible, pks=data["plays"]):
        try:
            if data["action"] == "reassign":
                assignment.play_reassign(play=play, by=request.user, to_owner=data["owner"])
            else:
                services.play_dismiss(
                    play=play, by=request.user, reason=data["reason"], note=data["note"]
                )
        except (services.PlayPermissionError, services.PlayTransitionError) as exc:
            failed.append(f"{play.account.name}: {exc}")
        else:
            done.append(play.account.name)
    if done:
        verb = (
            f"Reassigned to {data['owner'].name}"
            if data["action"] == "reassign"
            else (f"Dismissed ({data['reason'].label})")
        )
        messages.success(request, f"{verb}: {', '.join(done)}.")
    if failed:
        messages.error(request, "Not changed: " + "; ".join(failed))
    return redirect("plays:team")


SLA_COLUMNS = ["Plays", "On time", "Median start", "90th pct"]


def _sla_rows(figures: dict, label) -> list[list]:
    rows = []
    for key, f in sorted(figures.items(), key=lambda item: str(item[0])):
        rows.append([label(key), f["plays"], f["share"], f.get("median_h"), f.get("p90_h")])
    return rows


def _report_tables(start: datetime, end: datetime) -> dict[str, dict]:
    """Every table of the reports page by slug: title, columns, rows (also its CSV)."""
    plays = Play.objects.all()

    def funnel_label(value):
        return Funnel(value).label if value else "—"

    tables = {
        "sla-funnel": ("SLA compliance by funnel", "Funnel", "policy__funnel", funnel_label),
        "sla-industry": (
            "SLA compliance by industry",
            "Industry",
            "account__industry",
            lambda v: v or "Unknown",
        ),
        "sla-size": (
            "SLA compliance by size band",
            "Size band",
            "transition__size_band",
            lambda v: v or "Any size",
        ),
    }
    result = {
        slug: {
            "title": title,
            "columns": [first, *SLA_COLUMNS],
            "kinds": ["text", "count", "percent", "hours", "hours"],
            "rows": _sla_rows(
                reports.sla_compliance_by(key=key, qs=plays, start=start, end=end), label
            ),
        }
        for slug, (title, first, key, label) in tables.items()
    }
    result["sla-team"] = {
        "title": "SLA compliance by team",
        "columns": ["Team (manager)", *SLA_COLUMNS],
        "kinds": ["text", "count", "percent", "hours", "hours"],
        "rows": _sla_rows(reports.sla_compliance_by_team(start=start, end=end), str),
    }
    result["outcomes"] = {
        "title": "Completed plays by outcome",
        "columns": ["Outcome", "Plays"],
        "kinds": ["text", "count"],
        "rows": [
            [PlayOutcome(r["outcome"]).label if r["outcome"] else "Not given", r["count"]]
            for r in reports.outcomes(start=start, end=end)
        ],
    }
    result["escalations"] = {
        "title": "Escalations sent per level",
        "columns": ["Levels above the ADR", "Emails"],
        "kinds": ["text", "count"],
        "rows": [
            [r["level"], r["count"]] for r in reports.escalations_per_level(start=start, end=end)
        ],
    }
    result["dismissals"] = {
        "title": "Dismissals by rule",
        "columns": ["Rule", "Reason", "Plays"],
        "kinds": ["text", "text", "count"],
        "rows": [
            [r["rule"] or r["act_now"] or "—", r["reason"], r["count"]]
            for r in reports.dismissals_by_rule(start=start, end=end)
        ],
    }
    return result


@login_required
def reports_page(request):
    form = ReportForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "plays/reports.html", {"form": form}, status=400)
    if not request.GET:
        form = ReportForm({"period": "week"})  # the shared default range
        form.is_valid()
    first, last = form.range()
    period = form.cleaned_data["period"]
    rows = new_mqas_by_period(period=period, start=first, end=last)
    return render(
        request,
        "plays/reports.html",
        {
            "form": form,
            "rows": rows,
            "chart": charts.mqas_chart(rows=rows, period=period),
            "chart_summary": charts.mqas_summary(rows=rows, period=period),
            "tables": _report_tables(*form.bounds()),
            "query": request.GET.urlencode() or f"period={period}&start={first}&end={last}",
        },
    )


@login_required
def reports_table_csv(request, table: str):
    """Any table of the reports page as CSV, for the same range."""
    form = ReportForm(request.GET or {"period": "week"})
    if not form.is_valid():
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain",
        )
    tables = _report_tables(*form.bounds())
    if table not in tables:
        raise Http404(f"No report table {table!r}.")
    data = tables[table]
    response = HttpResponse(content_type="text/csv")
    first, last = form.range()
    name = f"{table}-{first}-{last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(data["columns"])
    for row in data["rows"]:
        writer.writerow(["" if value is None else value for value in row])
    return response


@login_required
def reports_csv(request):
    form = ReportForm(request.GET or {"period": "week"})
    if not form.is_valid():
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()),
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
