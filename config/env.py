"""Where the project lives and how its environment is read, shared by every settings module.

Settings come from the environment (12-factor) through django-environ; a `.env` file in the
project root fills in whatever the environment does not set.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the project writes at run time (SQLite file, mails, the filesystem broker);
# ignored by git. Created by whoever writes there, never by importing settings.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
