"""One human sentence for every decision, so a rule change can be argued about with data."""

from __future__ import annotations

from decimal import Decimal

from mqaflow.models import ActNowRule, MQARule, Seniority

from .measure import Figures
from .rulebook import Bandwidth, ClauseCheck

_NOUNS = {
    "minutes": ("minute", "minutes"),
    "people": ("person", "people"),
    "personas": ("persona", "personas"),
    "events": ("event", "events"),
    "leads": ("qualified lead", "qualified leads"),
}


def _num(value: object) -> str:
    if isinstance(value, Decimal | float):
        return f"{Decimal(str(value)).normalize():f}"
    return str(value)


def _count(kind: str, value: object) -> str:
    singular, plural = _NOUNS[kind]
    return f"{_num(value)} {singular if value == 1 else plural}"


def _measured(check: ClauseCheck, figures: Figures) -> tuple[str, str]:
    """('42 minutes from 3 people', 'needs 30 from 2') for the clause's own thresholds."""
    thresholds = check.thresholds()
    have, need = [], []
    for kind, needed in thresholds.items():
        if kind == "leads":
            have.append(_count("leads", check.leads_found(figures)))
            need.append(f"{needed} with {_num(check.clause.lead_minutes)} minutes each")
        else:
            have.append(_count(kind, getattr(figures, kind)))
            need.append(_num(needed))
    if check.seniority:
        top = Seniority(figures.top_seniority).label if figures.top_seniority else "nobody"
        have.append(f"most senior {top}")
        need.append(f"a {Seniority(check.seniority).label} or above")
    text = have[0] if have else ""
    if len(have) > 1:
        text = (
            f"{have[0]} from {', '.join(have[1:])}" if "minutes" in thresholds else ", ".join(have)
        )
    needs = need[0] if need else ""
    if len(need) > 1:
        needs = (
            f"{need[0]} from {', '.join(need[1:])}" if "minutes" in thresholds else ", ".join(need)
        )
    return text, needs


def _bandwidth_note(bandwidth: Bandwidth) -> str:
    if bandwidth.factor == 1:
        return ""
    return f"; thresholds ×{_num(bandwidth.factor)} for {bandwidth.name}"


def qualified_by_clause(
    rule: MQARule, check: ClauseCheck, figures: Figures, bandwidth: Bandwidth
) -> str:
    have, needs = _measured(check, figures)
    scope = f"in the last {figures.window_days} days"
    if check.clause.personas:
        scope = f"among {', '.join(check.clause.personas)} {scope}"
    return f"Qualified by {rule.name}: {have} {scope} (needs {needs}{_bandwidth_note(bandwidth)})."


def qualified_by_act_now(rule: ActNowRule, people: int, anonymous: int, latest) -> str:
    who = _count("people", people) if people else "an anonymous visitor"
    if people and anonymous:
        who += " and anonymous visitors"
    return (
        f"Act Now: {rule.name} — {rule.activity.name.lower()} by {who} "
        f"(latest {latest:%Y-%m-%d %H:%M} UTC)."
    )


def not_qualified(
    rule: MQARule | None, checks: list[tuple[ClauseCheck, Figures]], bandwidth: Bandwidth
) -> str:
    if rule is None:
        return "Not qualified: no active MQA rule covers this account's funnel and size."
    if not checks:
        return f"Not qualified under {rule.name}: the rule has no clauses."
    parts = []
    for check, figures in checks:
        have, needs = _measured(check, figures)
        parts.append(f"{have} in the last {figures.window_days} days (needs {needs})")
    return f"Not qualified under {rule.name}: {' or '.join(parts)}{_bandwidth_note(bandwidth)}."


def excluded(reason: str) -> str:
    return f"Excluded: {reason}." if reason else "Excluded from qualification."
