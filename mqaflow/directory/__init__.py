"""Owners, accounts, contacts and opportunities: the records marketing ops and the CRM
push in.

One module per record (owners, accounts, contacts, opportunities) with its services,
including its part of the nightly sync; `upserts` is the driver they share and `parsing`
reads a sync's items. Callers use the services named here.
"""

from .accounts import account_create, account_update, accounts_upsert
from .contacts import contact_create, contact_update, contacts_upsert
from .opportunities import opportunities_upsert
from .owners import OWNER_EMAIL_MAX_LENGTH, owner_create, owner_update, owners_upsert
from .parsing import UpsertInvalid
from .upserts import UpsertResult

__all__ = [
    "OWNER_EMAIL_MAX_LENGTH",
    "UpsertInvalid",
    "UpsertResult",
    "account_create",
    "account_update",
    "accounts_upsert",
    "contact_create",
    "contact_update",
    "contacts_upsert",
    "opportunities_upsert",
    "owner_create",
    "owner_update",
    "owners_upsert",
]
