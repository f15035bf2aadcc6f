"""Changes to inline rows (a policy's ladder steps, a rule's clauses) shown in the parent's
history: the parent's history row of the edit gets a change reason listing, field by field,
what changed in its inlines, so an admin reading the rule's history sees before and after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import models

if TYPE_CHECKING:
    # What the admin mixins extend, for the type checker: they only ever sit before a
    # ModelAdmin, whose methods they call through super().
    AdminBase = admin.ModelAdmin[Any]
else:
    AdminBase = object


def _describe(row: dict, fields: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={row[name]!r}" for name in fields)


def inline_diff(
    before: dict[int, dict], after: dict[int, dict], label: str, fields: tuple[str, ...]
) -> list[str]:
    """Readable lines: added, removed and changed inline rows with before → after."""
    lines = []
    for pk in sorted(after.keys() - before.keys()):
        lines.append(f"{label} added ({_describe(after[pk], fields)})")
    for pk in sorted(before.keys() - after.keys()):
        lines.append(f"{label} removed ({_describe(before[pk], fields)})")
    for pk in sorted(before.keys() & after.keys()):
        changes = [
            f"{name}: {before[pk][name]!r} → {after[pk][name]!r}"
            for name in fields
            if before[pk][name] != after[pk][name]
        ]
        if changes:
            lines.append(f"{label} #{pk} changed ({'; '.join(changes)})")
    return lines


class InlineChangesInHistory(AdminBase):
    """Admin mixin: `inline_history = {"steps": ("after_hours", …)}` by related name."""

    inline_history: dict[str, tuple[str, ...]] = {}

    def _inline_snapshot(self, obj: models.Model) -> dict[str, dict[int, dict]]:
        if obj.pk is None:
            return {name: {} for name in self.inline_history}
        return {
            name: {row["pk"]: row for row in getattr(obj, name).values("pk", *fields)}
            for name, fields in self.inline_history.items()
        }

    def save_model(self, request, obj, form, change):
        obj._inline_before = self._inline_snapshot(obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(obj, "_inline_before", None)
        if before is None:
            return
        after = self._inline_snapshot(obj)
        lines = []
        for name, fields in self.inline_history.items():
            label = obj._meta.get_field(name).related_model._meta.verbose_name.capitalize()
            lines += inline_diff(before.get(name, {}), after[name], label, fields)
        record = obj.history.order_by("-history_date", "-history_id").first()
        if lines and record is not None:
            reason = "; ".join(lines)
            record.history_change_reason = (
                f"{record.history_change_reason}; {reason}"
                if record.history_change_reason
                else reason
            )
            record.save(update_fields=["history_change_reason"])
