"""Where MQAs are decided: `engine.evaluate_accounts` and what explains and schedules it."""
