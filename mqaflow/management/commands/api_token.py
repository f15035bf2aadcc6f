from datetime import UTC, datetime, time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from mqaflow.models import ApiToken
from mqaflow.models.tokens import SCOPES, parse_scopes
from mqaflow.tokens import token_issue, tokens_rotate


def _expiry(value: str | None):
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 datetime with an offset."""
    if not value:
        return None
    try:
        day = parse_date(value)
        moment = datetime.combine(day, time(0), tzinfo=UTC) if day else parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"expires: {value!r} is not a date (YYYY-MM-DD) or datetime.")
    if moment.tzinfo is None:
        raise CommandError("expires: give a UTC offset, e.g. 2027-01-01T00:00:00+00:00.")
    return moment


def _token_options(parser) -> None:
    parser.add_argument("--name", default="API")
    parser.add_argument(
        "--integration",
        action="store_true",
        help="a token for a system (may write owners, accounts, contacts and events)",
    )
    parser.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        default=[],
        help=f"limit the token to a scope (repeat or comma-separate): {', '.join(SCOPES)}",
    )
    parser.add_argument("--expires", help="refuse the token from this date (YYYY-MM-DD, UTC)")


class Command(BaseCommand):
    help = (
        "Issue, rotate, list or revoke API tokens. The key is printed once and stored only "
        "as a SHA-256 digest."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="create a token for a user")
        issue.add_argument("email")
        _token_options(issue)
        rotate = sub.add_parser("rotate", help="issue a new token and revoke the user's others")
        rotate.add_argument("email")
        _token_options(rotate)
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        listing = sub.add_parser("list", help="list a user's tokens")
        listing.add_argument("email")

    def _user(self, email):
        user = get_user_model().objects.filter(username__iexact=email).first()
        if user is None:
            raise CommandError(f"email: no user {email!r}.")
        return user

    def handle(self, *args, action, **options):
        if action in ("issue", "rotate"):
            user = self._user(options["email"])
            try:
                scopes = parse_scopes(",".join(options.get("scopes") or []))
            except ValueError as exc:
                raise CommandError(f"scope: {exc}") from exc
            expires_at = _expiry(options.get("expires"))
            name, integration = options["name"], options.get("integration", False)
            if action == "rotate":
                token, key, revoked = tokens_rotate(
                    user=user,
                    name=name,
                    scopes=scopes,
                    expires_at=expires_at,
                    integration=integration,
                )
                self.stdout.write(f"Revoked {revoked} previous token(s).")
            else:
                token, key = token_issue(
                    user=user,
                    name=name,
                    scopes=scopes,
                    expires_at=expires_at,
                    integration=integration,
                )
            self.stdout.write(f"Token {token.prefix}… for {user.get_username()}: {key}")
            if scopes:
                self.stdout.write(f"Scopes: {', '.join(scopes)}")
            if expires_at:
                self.stdout.write(f"Expires: {expires_at.isoformat()}")
            self.stdout.write("Store it now: it cannot be shown again.")
        elif action == "revoke":
            tokens = ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True)
            if not tokens:
                raise CommandError(f"prefix: no active token starting with {options['prefix']!r}.")
            for token in tokens:
                token.revoke()
            self.stdout.write(f"Revoked {len(tokens)} token(s).")
        else:
            for token in ApiToken.objects.filter(user=self._user(options["email"])):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                if not token.revoked_at and token.is_expired():
                    state = f"expired {token.expires_at:%Y-%m-%d}"
                scope_list = ",".join(token.effective_scopes() or ["user's rights"])
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(
                    f"{token.prefix}…  {token.name}  {state}  scopes={scope_list}  last used {used}"
                )
