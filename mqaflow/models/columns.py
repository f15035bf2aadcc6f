"""Column names for the few statements written in SQL rather than through the ORM."""

from __future__ import annotations

from django.db import models


def column_of(model: type[models.Model], name: str) -> str:
    """The database column of one of `model`'s concrete fields; TypeError for a relation
    that has no column on this table (a reverse or many-to-many one)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column of {model._meta.db_table}.")
    return field.column
