"""Writing many accounts' new MQA state at once.

Django's `bulk_update` builds one `CASE WHEN id = … THEN …` per field and row, which costs
seconds of query compilation for a few thousand accounts (the first evaluation of a freshly
loaded database qualifies tens of thousands). On PostgreSQL one `UPDATE … FROM (VALUES …)`
per batch does the same in milliseconds. History rows are written in bulk either way.

The engine's own PostgreSQL path writes set-based from a temporary table (engine.py); this
one serves the ORM path and any caller holding `Account` objects.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Field

from mqaflow.models import Account
from mqaflow.models.accounts import MQA_STATE_FIELDS

BATCH = 1000
STATE_FIELDS = MQA_STATE_FIELDS


def _state_fields() -> list[Field]:
    fields = []
    for name in STATE_FIELDS:
        field = Account._meta.get_field(name)
        if not isinstance(field, Field) or not field.column:
            raise TypeError(f"Account.{name} is not a column of the account row.")
        fields.append(field)
    return fields


def state_casts() -> dict[str, str]:
    """The PostgreSQL type of each state field, by field name, from the model itself.

    A `VALUES` list has no column types: each value needs a cast. Taking them from the
    fields (not a list kept by hand beside `MQA_STATE_FIELDS`) means a field added to,
    removed from or reordered in that list cannot be written with another field's type.
    """
    casts = {}
    for field in _state_fields():
        db_type = field.db_type(connection)
        if not db_type:
            raise TypeError(f"Account.{field.name} has no column type to cast a value to.")
        casts[field.name] = db_type
    return casts


def accounts_write_state(*, accounts: list[Account]) -> None:
    """Persist the MQA state fields of `accounts` (already locked by the caller)."""
    if not accounts:
        return
    if connection.vendor != "postgresql":
        Account.objects.bulk_update(accounts, STATE_FIELDS, batch_size=BATCH)
    else:
        fields = _state_fields()
        casts = state_casts()
        pk = Account._meta.pk
        assert pk is not None
        columns = [str(field.column) for field in fields]  # each checked by _state_fields
        sets = ", ".join(f"{col} = v.{col}" for col in columns)
        row = (
            f"(%s::{pk.rel_db_type(connection)}, "
            + ", ".join(f"%s::{casts[field.name]}" for field in fields)
            + ")"
        )
        for start in range(0, len(accounts), BATCH):
            chunk = accounts[start : start + BATCH]
            params: list[Any] = []
            for account in chunk:
                params.append(account.pk)
                params += [
                    field.get_db_prep_save(getattr(account, field.attname), connection)
                    for field in fields
                ]
            sql = (
                f"UPDATE {Account._meta.db_table} AS a SET {sets} "
                f"FROM (VALUES {', '.join([row] * len(chunk))}) "
                f"AS v({pk.column}, {', '.join(columns)}) WHERE a.{pk.column} = v.{pk.column}"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    Account.history.bulk_history_create(accounts, batch_size=BATCH, update=True)
