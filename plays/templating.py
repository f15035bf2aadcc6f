"""Filling a play template's first-touch email with the account's own data."""

from __future__ import annotations

from collections import defaultdict

from mqaflow.models import SENIORITY_RANK, Contact

from .models import Play


class _Blank(defaultdict):
    """Unknown placeholders stay visible ({like_this}) instead of raising."""

    def __missing__(self, key):
        return "{" + key + "}"


def first_touch_email(*, play: Play, contacts: list[Contact]) -> tuple[str, str]:
    template = play.template
    if template is None:
        return "", ""
    engaged = sorted(
        (c for c in contacts if c.name),
        key=lambda c: (SENIORITY_RANK.get(c.seniority, len(SENIORITY_RANK)), c.name),
    )
    lead = engaged[0] if engaged else None
    values = _Blank(
        str,
        account=play.account.name,
        domain=play.account.domain,
        contact_name=(lead.name.split()[0] if lead else "there"),
        contacts=", ".join(c.name for c in engaged[:5]),
        assignee=play.assignee.name,
    )
    return template.email_subject.format_map(values), template.email_body.format_map(values)
