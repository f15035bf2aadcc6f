"""The application's own knobs: ingest limits, plays, health, outgoing webhooks, the demo."""

from datetime import timedelta

from config.env import env

# --- Ingest ------------------------------------------------------------------------
# How far in the future an event's timestamp may be (clock skew between systems).
MQAFLOW_EVENT_FUTURE_SKEW_SECONDS = env.int("MQAFLOW_EVENT_FUTURE_SKEW_SECONDS", default=300)
MQAFLOW_EVENT_BATCH_MAX = 5000
# Owners, accounts or contacts per bulk upsert request (all or nothing).
MQAFLOW_UPSERT_BATCH_MAX = 5000

# --- Plays ---------------------------------------------------------------------------
# When a play is reassigned: "keep" the SLA clock running, or "restart" it from the
# reassignment (unsent reminder and escalation steps are re-planned).
MQAFLOW_REASSIGN_SLA_CLOCK = env.str("MQAFLOW_REASSIGN_SLA_CLOCK", default="keep")
# A notice claimed longer ago than this is taken to be stranded (its worker died).
MQAFLOW_STALE_CLAIM_SECONDS = env.int("MQAFLOW_STALE_CLAIM_SECONDS", default=600)

# --- Health (/health/) -------------------------------------------------------------------
# A periodic job is stale once it has not succeeded for this long (its interval plus
# slack). The variable names only the jobs to change, in seconds:
# MQAFLOW_HEALTH_STALE_AFTER=recompute_all=3600,escalations_sweep=600
_health_stale_after_seconds = {
    "escalations_sweep": 5 * 60,
    "recompute_pending": 5 * 60,
    "recompute_all": 45 * 60,
} | env.dict("MQAFLOW_HEALTH_STALE_AFTER", default={})
MQAFLOW_HEALTH_STALE_AFTER = {
    job: timedelta(seconds=int(seconds)) for job, seconds in _health_stale_after_seconds.items()
}

# Seconds a sweep may keep claiming notices; unset: the task's soft time limit minus two
# sends' worth (EMAIL_TIMEOUT), so nothing claimed waits behind a stopped task.
MQAFLOW_SWEEP_BUDGET_SECONDS = env.float("MQAFLOW_SWEEP_BUDGET_SECONDS", default=None)
# Seconds before a Slack or Teams webhook that does not answer is given up on (and retried).
CHAT_TIMEOUT_SECONDS = env.float("CHAT_TIMEOUT_SECONDS", default=10)

# --- Outgoing webhooks (integrations/) ------------------------------------------------
# Seconds before a receiver that does not answer is given up on (and retried later).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Retries of timeouts, connection errors, 5xx, 408 and 429 stop after this many hours; an
# endpoint that failed for this long without a success is disabled and ADMIN_EMAILS told.
WEBHOOK_RETRY_HOURS = env.int("WEBHOOK_RETRY_HOURS", default=24)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600)
# A delivery claimed longer ago than this is taken to be stranded (its worker died).
WEBHOOK_STALE_CLAIM_SECONDS = env.int("WEBHOOK_STALE_CLAIM_SECONDS", default=300)

# --- Demo (`manage.py seed_demo`, `make run`) -----------------------------------------------
# Each app seeds its own part of the demo; they run in this order, in one transaction, on
# one shared `mqaflow.demo.Demo`. Plays' policies need the org, and must be in place before
# the accounts qualify (an ownerless account's play goes to the fallback owner).
MQAFLOW_DEMO_SEEDERS = [
    "mqaflow.demo.org_seed",  # the org chart and the logins
    "plays.demo.policies_seed",  # a fallback owner for accounts without one
    "mqaflow.demo.accounts_seed",  # accounts, contacts, engagement; qualifying creates plays
    "plays.demo.plays_seed",  # the new plays aged to show every state; notices sent
    "mqaflow.demo.opportunities_seed",  # what some MQAs led to (after the plays are aged)
    "tuning.demo.tuning_seed",  # a draft in shadow, its backtest, the admin's digest
]
