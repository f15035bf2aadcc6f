"""Rule sets: copy the live rules into a draft, compare a draft with the live set, promote.

A draft is edited in admin like the live rules, but nothing evaluates it (no recompute, no
play, no email) until it is promoted. Promotion swaps the live set in one transaction, puts
the promoted set's weights into force (re-crediting stored events when they differ) and
re-evaluates every account with the cause "rule set promoted"; its preview is the same
promotion rolled back, so the counts shown are exactly what it will do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, update_change_reason

from mqaflow.models import (
    Account,
    ActivityType,
    ActivityWeight,
    ActNowRule,
    BandwidthPeriod,
    MQAClause,
    MQARule,
    MQAStatus,
    RuleSet,
    RuleSetStatus,
    SeniorityMultiplier,
    SeniorityWeight,
    SizeBand,
)
from mqaflow.models.rulesets import rule_sets_lock
from mqaflow.qualification.engine import accounts_evaluate, accounts_restate
from mqaflow.qualification.rulebook import rule_set_weights
from mqaflow.qualification.shadow import shadow_reset
from mqaflow.reweight import events_reweight

PROMOTED = "rule set promoted"

User = AbstractBaseUser | AnonymousUser | None


class RuleSetError(ValueError):
    """The rule set cannot take this step (e.g. promoting the live set)."""


def _user(user: User) -> Any:
    return user if user is not None and user.is_authenticated else None


def _fields(model: type[models.Model], *skip: str) -> list[str]:
    """The attnames a copy carries over (not the pk, the set, nor what `skip` names)."""
    return [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in {"rule_set", *skip}
    ]


@transaction.atomic
def rule_set_copy(*, source: RuleSet, name: str = "", user: User = None) -> RuleSet:
    """A new draft holding a copy of every row of `source` and its effective weights."""
    draft = RuleSet.objects.create(
        name=name or f"Copy of {source.name}",
        based_on=source,
        description=f"Copied from “{source.name}” on {timezone.localdate():%Y-%m-%d}.",
        conversion_days=source.conversion_days,
        created_by=_user(user),
    )
    reason = f"copied from “{source.name}”"
    bands: dict[int, int] = {}
    for band in SizeBand.objects.filter(rule_set=source).order_by("pk"):
        bands[band.pk] = SizeBand.objects.create(
            rule_set=draft, **{f: getattr(band, f) for f in _fields(SizeBand)}
        ).pk
    rule_fields = _fields(MQARule, "size_band", "created_at", "updated_at")
    clause_fields = _fields(MQAClause, "rule")
    for rule in MQARule.objects.filter(rule_set=source).prefetch_related("clauses"):
        copy = MQARule.objects.create(
            rule_set=draft,
            size_band_id=bands.get(rule.size_band_id) if rule.size_band_id else None,
            **{f: getattr(rule, f) for f in rule_fields},
        )
        _bulk_create(
            MQAClause,
            [
                MQAClause(rule=copy, **{f: getattr(c, f) for f in clause_fields})
                for c in rule.clauses.all()
            ],
            reason,
        )
    _copy_rows(ActNowRule, source=source, draft=draft, reason=reason)
    _copy_rows(BandwidthPeriod, source=source, draft=draft, reason=reason)
    _weights_store(draft, source, reason)
    return draft


def _copy_rows(
    model: type[ActNowRule] | type[BandwidthPeriod], *, source: RuleSet, draft: RuleSet, reason: str
) -> None:
    """Copy a set's rows of a model that hangs off the set alone (no other rule row)."""
    names = _fields(model)
    rows = model._default_manager.filter(rule_set=source).order_by("pk")
    copies = [model(rule_set=draft, **{f: getattr(row, f) for f in names}) for row in rows]
    _bulk_create(model, copies, reason)


def _bulk_create(model: type[models.Model], rows: list, reason: str) -> None:
    """Insert the rows with their first history row (bulk inserts skip the signals)."""
    bulk_create_with_history(rows, model, default_change_reason=reason)


def _weights_store(target: RuleSet, source: RuleSet, reason: str) -> None:
    """Write `source`'s effective weights as `target`'s own rows."""
    weights = rule_set_weights(source)
    ActivityWeight.objects.filter(rule_set=target).delete()
    SeniorityWeight.objects.filter(rule_set=target).delete()
    _bulk_create(
        ActivityWeight,
        [
            ActivityWeight(rule_set=target, activity_id=pk, minutes=m)
            for pk, m in weights.activity.items()
        ],
        reason,
    )
    _bulk_create(
        SeniorityWeight,
        [
            SeniorityWeight(rule_set=target, seniority=s, multiplier=m)
            for s, m in weights.seniority.items()
        ],
        reason,
    )


@dataclass(frozen=True)
class DiffRow:
    """One difference between two sets: `item` in `section`, `field` valued `live` there
    and `draft` here ("—" where the item does not exist)."""

    section: str
    item: str
    field: str
    live: str
    draft: str


ABSENT = "—"


def _show(value: object) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _snapshot(rule_set: RuleSet) -> dict[str, dict[str, dict[str, str]]]:
    """section → item label → field label → shown value, for comparing two sets."""
    weights = rule_set_weights(rule_set)
    activities = dict(ActivityType.objects.values_list("pk", "key"))
    found: dict[str, dict[str, dict[str, str]]] = {
        "Settings": {"Rule set": {"conversion days": _show(rule_set.conversion_days)}},
        "Activity minutes": {
            activities[pk]: {"minutes": _show(m)}
            for pk, m in weights.activity.items()
            if pk in activities
        },
        "Seniority multipliers": {
            s: {"multiplier": _show(m)} for s, m in weights.seniority.items()
        },
        "Size bands": {},
        "MQA rules": {},
        "Act Now rules": {},
        "Bandwidth periods": {},
    }
    for band in SizeBand.objects.filter(rule_set=rule_set):
        found["Size bands"][band.slug] = _values(band, _fields(SizeBand, "slug"))
    clause_fields = _fields(MQAClause, "rule", "order", "name")
    rule_fields = _fields(MQARule, "size_band", "created_at", "updated_at", "description")
    rules = MQARule.objects.filter(rule_set=rule_set).select_related("size_band")
    for rule in rules.prefetch_related("clauses").order_by("pk"):
        segment = _put(
            found["MQA rules"],
            f"{rule.name} [funnel {rule.funnel or 'any'}, {rule.size_band or 'any size'}]",
            {
                **_values(rule, rule_fields),
                "size band": rule.size_band.slug if rule.size_band else "(any)",
            },
        )
        for clause in rule.clauses.all():
            label = f"{segment} · clause {clause.order} {clause.name}".rstrip()
            _put(found["MQA rules"], label, _values(clause, clause_fields))
    for act in ActNowRule.objects.filter(rule_set=rule_set).order_by("pk"):
        _put(found["Act Now rules"], act.name, _values(act, _fields(ActNowRule, "name")))
    for period in BandwidthPeriod.objects.filter(rule_set=rule_set).order_by("pk"):
        values = _values(period, _fields(BandwidthPeriod, "name"))
        _put(found["Bandwidth periods"], period.name, values)
    return found


def _put(items: dict[str, dict[str, str]], label: str, values: dict[str, str]) -> str:
    """File `values` under `label`, numbered when the name is taken (names need not be
    unique, and a same-named row must not hide another's difference); copies keep their
    source's order, so the n-th same-named row of a draft meets the n-th of the live set."""
    found, n = label, 1
    while found in items:
        n += 1
        found = f"{label} ({n})"
    items[found] = values
    return found


def _values(row: models.Model, names: list[str]) -> dict[str, str]:
    shown = {}
    for attname in names:
        field = row._meta.get_field(attname.removesuffix("_id"))
        assert isinstance(field, models.Field)
        shown[str(field.verbose_name)] = _show(getattr(row, field.name))
    return shown


def rule_set_diff(*, draft: RuleSet, live: RuleSet | None = None) -> list[DiffRow]:
    """Every value that differs between `draft` and `live` (the live set unless given),
    items missing on one side included; empty when the two decide alike."""
    live = live if live is not None else RuleSet.objects.live()
    before, after = _snapshot(live), _snapshot(draft)
    return list(_differences(before, after))


def _differences(before: dict, after: dict) -> Iterator[DiffRow]:
    for section in after:
        old_items, new_items = before.get(section, {}), after[section]
        for item in sorted(set(old_items) | set(new_items)):
            old, new = old_items.get(item), new_items.get(item)
            if old is None or new is None:
                present = (old or new) or {}
                summary = "; ".join(f"{k} {v}" for k, v in present.items())
                yield DiffRow(
                    section,
                    item,
                    "(whole item)",
                    summary if old else ABSENT,
                    summary if new else ABSENT,
                )
                continue
            for name in new:
                if old.get(name) != new[name]:
                    yield DiffRow(section, item, name, old.get(name, ABSENT), new[name])


@dataclass(frozen=True)
class Promotion:
    """What a promotion did (or, for a preview, would do)."""

    rule_set: RuleSet
    previous: RuleSet
    status_changes: int
    qualified: int
    disqualified: int
    plays: int
    events_reweighted: int


class _Preview(Exception):
    """Raised to roll a promotion back once its counts are known."""

    def __init__(self, promotion: Promotion) -> None:
        self.promotion = promotion


def rule_set_promote(
    *, rule_set: RuleSet, user: User = None, now: datetime | None = None, preview: bool = False
) -> Promotion:
    """Make `rule_set` (a draft or a retired set) live, retire the live one, then
    re-evaluate every account. With `preview`, do all of it and roll it back."""
    if preview:
        try:
            with transaction.atomic():
                # Rolled back whatever happens: no need to make ingest and recomputes wait.
                raise _Preview(_promote(rule_set=rule_set, user=user, now=now, exclusive=False))
        except _Preview as done:
            for row in (rule_set, done.promotion.rule_set, done.promotion.previous):
                row.refresh_from_db()  # as they are again, not as the rolled-back run left them
            return done.promotion
    with transaction.atomic():
        return _promote(rule_set=rule_set, user=user, now=now)


def _promote(
    *, rule_set: RuleSet, user: User, now: datetime | None, exclusive: bool = True
) -> Promotion:
    now = now or timezone.now()
    if exclusive:
        rule_sets_lock()  # waits for the runs deciding or crediting under the live set
    locked = RuleSet.objects.select_for_update().filter(
        models.Q(pk=rule_set.pk) | models.Q(status=RuleSetStatus.LIVE)
    )
    rows = {r.pk: r for r in locked.order_by("pk")}
    target = rows[rule_set.pk]
    if target.status == RuleSetStatus.LIVE:
        raise RuleSetError(f"“{target.name}” is already live.")
    previous = next((r for r in rows.values() if r.status == RuleSetStatus.LIVE), None)
    if previous is None:
        raise RuleSetError("There is no live rule set to replace.")
    # the retiring set keeps the weights it ran with
    _weights_store(previous, previous, "the weights it was live with")
    reweighted = _weights_apply(target)
    previous.status = RuleSetStatus.RETIRED
    previous.save()
    update_change_reason(previous, f"retired: “{target.name}” promoted")
    target.status = RuleSetStatus.LIVE
    target.promoted_at = now
    target.promoted_by = _user(user)
    target.shadow = False  # only drafts run in shadow
    shadow_reset(rule_set=target)
    target.save()
    update_change_reason(target, f"promoted, replacing “{previous.name}”")
    result = accounts_evaluate(now=now, cause=PROMOTED)
    # MQAs that stay MQAs: explained by the new live set's rules, not the retired set's.
    still = Account.objects.filter(mqa_status=MQAStatus.MQA).filter(
        models.Q(mqa_rule__rule_set=previous) | models.Q(mqa_act_now_rule__rule_set=previous)
    )
    accounts_restate(account_ids=list(still.values_list("pk", flat=True)), now=now)
    transitions = result.transitions
    qualified = sum(1 for t in transitions if t.to_status == MQAStatus.MQA)
    return Promotion(
        rule_set=target,
        previous=previous,
        status_changes=len(transitions),
        qualified=qualified,
        disqualified=sum(1 for t in transitions if t.from_status == MQAStatus.MQA),
        plays=result.consequences.get("plays", 0),
        events_reweighted=reweighted,
    )


def _weights_apply(rule_set: RuleSet) -> int:
    """Put the set's own weights into force and re-credit the stored events whose weight
    changed (only those, and never minutes a source sent).
    Returns how many events were re-credited."""
    weights = rule_set_weights(rule_set)
    changed_keys = []
    for activity in ActivityType.objects.filter(pk__in=weights.changed_activities):
        activity.minutes = weights.activity[activity.pk]
        activity.save(update_fields=["minutes"])
        changed_keys.append(activity.key)
    for level in weights.changed_seniorities:
        SeniorityMultiplier.objects.update_or_create(
            seniority=level, defaults={"multiplier": weights.seniority[level]}
        )
    ActivityWeight.objects.filter(rule_set=rule_set).delete()
    SeniorityWeight.objects.filter(rule_set=rule_set).delete()
    # An event of a changed activity and a changed seniority is re-credited twice, alike.
    return sum(events_reweight(activity=key, keep_explicit=True) for key in changed_keys) + sum(
        events_reweight(seniority=level, keep_explicit=True)
        for level in weights.changed_seniorities
    )
