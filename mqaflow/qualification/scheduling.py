"""Asking for a recompute without depending on the broker.

Ingest marks the touched accounts (`last_event_ingested_at`) in its own transaction and
asks for a recompute after commit. The task evaluates every account whose evidence is newer
than its last evaluation, so a burst of batches collapses into cheap no-ops, and a message
lost to a Redis outage is made good by the same task run periodically by beat.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction


def request_recompute(account_ids: Iterable[int], *, cause: str = "ingest") -> None:
    """Publish one coalesced recompute once the current transaction commits; `cause` is
    recorded on the transitions it leads to."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    transaction.on_commit(lambda: _publish(ids, cause))


def _publish(account_ids: list[int], cause: str) -> None:
    from mqaflow.broker import publish
    from mqaflow.tasks import recompute_accounts

    publish(recompute_accounts, account_ids, cause=cause)
