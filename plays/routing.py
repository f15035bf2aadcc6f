"""Who gets a play, and who hears of it at each step: resolved from the org chart as it
stands at that moment, with every skip explained in words for the audit.

Read-only, like `plays.selectors`: these are the routing selectors (keyword-only; the
predicate `available` takes its owner first so that type checkers can narrow it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeGuard

from mqaflow.models import Account, Owner

from .models import OwnerAbsence, SLAPolicy


def absence_of(*, owner: Owner, at: datetime) -> OwnerAbsence | None:
    return (
        OwnerAbsence.objects.filter(owner=owner, starts_at__lte=at, ends_at__gt=at)
        .select_related("delegate")
        .first()
    )


@dataclass
class Routing:
    owner: Owner | None
    notes: list[str] = field(default_factory=list)


def assignee_for(
    *,
    account: Account,
    policy: SLAPolicy,
    at: datetime,
    absences: dict[int, OwnerAbsence] | None = None,
) -> Routing:
    """The account's owner, else the funnel's fallback owner; an away owner's stand-in.

    A batch passes the absences in force (`absences_at`), loaded once."""
    notes: list[str] = []
    owner = account.owner
    if owner is None:
        notes.append("The account has no owner: routed to the funnel's fallback owner.")
        owner = policy.fallback_owner
    elif not owner.is_active:
        notes.append(f"{owner.name} is inactive: routed to the funnel's fallback owner.")
        owner = policy.fallback_owner
    if owner is not None and not owner.is_active:
        notes.append(f"The fallback owner {owner.name} is inactive.")
        owner = None
    if owner is not None:
        away = absence_of(owner=owner, at=at) if absences is None else absences.get(owner.pk)
        if away is not None:
            stand_in = successor_of(owner=owner, at=at, policy=policy, absence=away)
            notes.extend(stand_in.notes)
            owner = stand_in.owner
    if owner is None:
        # Never drop a qualified account: with no fallback configured, the top of the org
        # (an active owner with no manager) gets it, and the note says so.
        owner = Owner.objects.filter(manager__isnull=True, is_active=True).order_by("pk").first()
        if owner is not None:
            notes.append(
                f"No fallback owner is configured for Funnel {policy.funnel}: "
                f"assigned to the top of the org, {owner.name}."
            )
    return Routing(owner, notes)


def available(owner: Owner | None, at: datetime) -> TypeGuard[Owner]:
    """Active and not away: someone who can take a play now."""
    return owner is not None and owner.is_active and absence_of(owner=owner, at=at) is None


def successor_of(
    *,
    owner: Owner,
    at: datetime,
    policy: SLAPolicy | None = None,
    absence: OwnerAbsence | None = None,
) -> Routing:
    """Who takes over an owner's plays while they are away or after they left: the
    absence's delegate, else the owner's standing delegate, else the first available
    manager up the chain, else the funnel's fallback owner, else the top of the org."""
    label = (
        f"{owner.name} is away until {absence.ends_at:%Y-%m-%d}"
        if absence is not None
        else f"{owner.name} is inactive"
    )
    for candidate, role in (
        (absence.delegate if absence else None, "their delegate for the absence"),
        (owner.delegate, "their delegate"),
    ):
        if available(candidate, at):
            return Routing(candidate, [f"{label}: assigned to {role} {candidate.name}."])
    for manager in owner.managers():
        if available(manager, at):
            return Routing(manager, [f"{label}: assigned to their manager {manager.name}."])
    fallback = policy.fallback_owner if policy is not None else None
    if available(fallback, at) and fallback.pk != owner.pk:
        return Routing(fallback, [f"{label}: assigned to the fallback owner {fallback.name}."])
    top = (
        Owner.objects.filter(manager__isnull=True, is_active=True)
        .exclude(pk=owner.pk)
        .order_by("pk")
        .first()
    )
    if top is not None:
        return Routing(top, [f"{label}: nobody else is available; assigned to {top.name}."])
    return Routing(None, [f"{label} and nobody else is available."])


@dataclass
class Recipient:
    owner: Owner | None
    level: int
    notes: list[str] = field(default_factory=list)


def absences_at(*, at: datetime) -> dict[int, OwnerAbsence]:
    """Every absence in force at `at`, by owner: one query for a whole sweep batch."""
    found = OwnerAbsence.objects.filter(starts_at__lte=at, ends_at__gt=at).select_related(
        "delegate"
    )
    return {a.owner_id: a for a in found}


def escalation_recipient(
    *,
    assignee: Owner,
    levels_up: int | None,
    to_top: bool,
    at: datetime,
    chain: list[Owner] | None = None,
    absences: dict[int, OwnerAbsence] | None = None,
) -> Recipient:
    """Walk up the assignee's chain; a short chain gives its highest manager; an away
    manager is replaced by their delegate, or else by the next manager up.

    The sweep passes the chain and absences it loaded once per batch; alone, this
    function loads them itself."""
    chain = assignee.managers() if chain is None else chain
    notes: list[str] = []
    if not chain:
        return Recipient(None, 0, [f"{assignee.name} has no manager to escalate to."])
    wanted = len(chain) if to_top else levels_up or 1
    if wanted > len(chain):
        notes.append(
            f"The chain above {assignee.name} has {len(chain)} level(s); "
            f"the highest manager receives this step."
        )
        wanted = len(chain)
    index = wanted - 1
    while index < len(chain):
        candidate = chain[index]
        if not candidate.is_active:
            notes.append(f"{candidate.name} is inactive: skipped to the next level up.")
            index += 1
            continue
        away = (
            absence_of(owner=candidate, at=at) if absences is None else absences.get(candidate.pk)
        )
        if away is None:
            return Recipient(candidate, index + 1, notes)
        if away.delegate and away.delegate.is_active:
            notes.append(
                f"{candidate.name} is away until {away.ends_at:%Y-%m-%d}: "
                f"sent to their delegate {away.delegate.name}."
            )
            return Recipient(away.delegate, index + 1, notes)
        notes.append(f"{candidate.name} is away with no delegate: skipped to the next level up.")
        index += 1
    # Everyone above is away or inactive: the top of the chain hears of it anyway, if they
    # are still with the company.
    top = chain[-1]
    if not top.is_active:
        notes.append("Nobody further up is active: nobody is told.")
        return Recipient(None, len(chain), notes)
    notes.append("Nobody further up is available: sent to the top of the chain.")
    return Recipient(top, len(chain), notes)


def relation(recipient_level: int, assignee_name: str) -> str:
    """ "Ana (your report's report)" from the recipient's point of view."""
    if recipient_level <= 0:
        return "You"
    if recipient_level == 1:
        return f"{assignee_name} (your report)"
    if recipient_level == 2:
        return f"{assignee_name} (your report's report)"
    return f"{assignee_name} ({recipient_level} levels below you)"
