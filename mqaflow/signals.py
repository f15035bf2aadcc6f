"""Domain signals. Sent inside the transaction that records the transition, so a receiver
that writes (plays creates its play) commits or rolls back together with it."""

from django.dispatch import Signal

# Sent once per recorded MQATransition into `mqa`; kwargs: transition (MQATransition).
account_qualified = Signal()
# Sent once per recorded batch, before the per-transition signals, with every transition
# into `mqa` of the batch; kwargs: transitions (list[MQATransition]). Plays are created
# from this one, set-based when a batch is large (a fresh load).
accounts_qualified = Signal()
# Sent once per recorded MQATransition out of `mqa`; kwargs: transition (MQATransition).
account_disqualified = Signal()

# Sent after an account's owner changed (API, admin, CSV), inside the saving transaction;
# kwargs: account (Account), previous_owner_id (int | None), by (User | None).
account_owner_changed = Signal()
# Sent after an owner was deactivated, inside the saving transaction;
# kwargs: owner (Owner), by (User | None).
owner_deactivated = Signal()
