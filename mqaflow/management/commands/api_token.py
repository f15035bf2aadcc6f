from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mqaflow.models import ApiToken


class Command(BaseCommand):
    help = (
        "Issue, rotate, list or revoke API tokens. The key is printed once and stored only "
        "as a SHA-256 digest."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="create a token for a user")
        issue.add_argument("email")
        issue.add_argument("--name", default="API")
        issue.add_argument(
            "--integration",
            action="store_true",
            help="a token for a system (may write owners, accounts, contacts and events)",
        )
        rotate = sub.add_parser("rotate", help="issue a new token and revoke the user's others")
        rotate.add_argument("email")
        rotate.add_argument("--name", default="API")
        rotate.add_argument("--integration", action="store_true")
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
            old = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
            token, key = ApiToken.issue(
                user=user, name=options["name"], integration=options.get("integration", False)
            )
            if action == "rotate":
                for previous in old:
                    previous.revoke()
                self.stdout.write(f"Revoked {len(old)} previous token(s).")
            self.stdout.write(f"Token {token.prefix}… for {user.get_username()}: {key}")
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
                self.stdout.write(f"{token.prefix}…  {token.name}  {state}")
