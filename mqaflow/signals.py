"""Domain signals. Sent inside the transaction that records the transition, so a receiver
that writes (plays creates its play) commits or rolls back together with it."""

from django.dispatch import Signal

# Sent once per recorded MQATransition into `mqa`; kwargs: transition (MQATransition).
account_qualified = Signal()
# Sent once per recorded MQATransition out of `mqa`; kwargs: transition (MQATransition).
account_disqualified = Signal()
