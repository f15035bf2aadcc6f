"""Outgoing mail: the backend from EMAIL_URL (django-environ), the sender, who the admins are."""

from pathlib import Path
from urllib.parse import urlsplit

from config.env import BASE_DIR, VAR_DIR, env

_email_url = env.str("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail'}")
vars().update(env.email_url_config(_email_url))


def email_file_path(url: str, base: Path = BASE_DIR) -> str:
    """The folder of a filemail:// URL: filemail:///abs/path is absolute, filemail://var/mail
    is relative to the project (django-environ drops the leading slash of the first and
    splits the second at its host, so both used to land somewhere under the cwd)."""
    parts = urlsplit(url)
    path = Path(parts.netloc + parts.path)
    return str(path if path.is_absolute() else base / path)


if _email_url.startswith("filemail:"):
    EMAIL_FILE_PATH = email_file_path(_email_url)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="mqaflow <mqaflow@localhost>")
# Django's default is no timeout: a hanging SMTP server would pin a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Who hears of server errors and of notices whose delivery is unknown (a worker died
# mid-send twice).
ADMINS = [("Admins", a) for a in env.list("ADMIN_EMAILS", default=[])]
SERVER_EMAIL = DEFAULT_FROM_EMAIL
