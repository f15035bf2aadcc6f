"""Asking for a recompute without depending on the broker.

Ingest marks the touched accounts (`last_event_ingested_at`) in its own transaction and
asks for a recompute after commit. A message lost to a Redis outage is made good by the
catch-up task run every minute by beat: it evaluates every account with evidence ingested
since the last run that covered all such accounts (a full recompute, or the previous
catch-up), as the `RecomputeRun` records say (`mqaflow.selectors.pending_account_ids`), so
no per-account "evaluated at" stamp has to be rewritten on every run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction

# The cause recorded by the catch-up run, which is how the next one finds where to start.
CATCH_UP = "catch-up"
# An ingest stamps its accounts before it commits: a run that started meanwhile did not see
# the events. Starting this much before the last covering run catches those.
CATCH_UP_MARGIN = timedelta(minutes=5)


def recompute_request(*, account_ids: Iterable[int], cause: str = "ingest") -> None:
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
