"""Where MQAs are decided: `engine.accounts_evaluate` and what explains and schedules it."""
