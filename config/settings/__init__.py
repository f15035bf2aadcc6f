"""Settings, one module per concern, read from the environment (see README.md).

- `config.settings.production`: the settings of every real process (production, and
  `make run` with DEBUG=1); assembled from `django`, `api`, `security`, `email`, `logging`,
  `celery` and `mqaflow`.
- `config.settings.test`: the same with test-friendly defaults (pytest, mypy).

This package itself defines no settings: the test settings set their environment defaults
before the production settings read the environment, which a package body would pre-empt.
"""
