"""Play signals, sent inside the transaction that changes the play, so a receiver that
writes (the integrations outbox) commits or rolls back together with the change.

Plays never import their receivers: integrations subscribe to these."""

from django.dispatch import Signal

# Sent after a play was created or changed status or assignee; kwargs: play (Play),
# kind ("created", "started", "completed", "dismissed", "withdrawn", "reopened",
# "reassigned"), at (datetime), by (User | None), note (str).
play_changed = Signal()

# Sent after notices were handed to their channel and marked sent, in the same transaction;
# kwargs: notices (list[Notice]), at (datetime).
notices_sent = Signal()
