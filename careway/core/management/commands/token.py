"""`careway token create|list|revoke`: API tokens for integrations, from the console."""

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from careway.core import audit, tokens
from careway.core.models import ApiToken, User


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _status(token: ApiToken) -> str:
    if token.revoked_at:
        return "revoked"
    if token.expires_at <= timezone.now():
        return "expired"
    return "active"


class Command(BaseCommand):
    help = "Create, list and revoke API tokens. A new token is printed once and never again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
        create = actions.add_parser("create", help="Issue a token for a user.")
        create.add_argument("username")
        create.add_argument("--name", default="API token", help="What the token is for.")
        create.add_argument(
            "--scopes",
            default="patients:read",
            help=f"Comma-separated, from: {', '.join(ApiToken.SCOPES)} (default patients:read).",
        )
        create.add_argument("--days", type=int, default=tokens.DEFAULT_DAYS)
        listing = actions.add_parser("list", help="A user's tokens, newest first.")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="Stop a token working, by its prefix.")
        revoke.add_argument("prefix", help="The prefix `token list` shows, or the whole token.")

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"create": self.create, "list": self.list_tokens, "revoke": self.revoke}
        handlers[options["action"]](options)

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).select_related("organization").first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        return user

    def create(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        scopes = options["scopes"].split(",")
        try:
            raw, token = tokens.create_token(
                audit.Actor.system(), user, options["name"], scopes, options["days"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Token {token.name!r} for {user.username} ({user.organization}):")
        self.stdout.write(f"  {raw}")
        self.stdout.write(f"Scopes: {', '.join(token.scopes)}. Expires {_when(token.expires_at)}.")
        self.stdout.write("Copy it now: it is stored only as a hash and cannot be shown again.")

    def list_tokens(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        rows = tokens.tokens_of(user)
        if not rows:
            self.stdout.write(
                f"{user.username} has no tokens. Make one with `careway token create`."
            )
            return
        self.stdout.write(f"{len(rows)} token(s) of {user.username}, newest first:")
        for token in rows:
            self.stdout.write(
                f"  {token.prefix}  {_status(token):8} {token.name!r}  {','.join(token.scopes)}"
                f"  expires {_when(token.expires_at)}  last used {_when(token.last_used_at)}"
            )

    def revoke(self, options: dict[str, Any]) -> None:
        found = tokens.find_by_prefix(options["prefix"])
        if not found:
            raise CommandError(f"No token starts with {options['prefix']!r}.")
        if len(found) > 1:
            raise CommandError("Several tokens start with that; give more of the prefix.")
        token = found[0]
        if token.revoked_at:
            self.stdout.write(
                f"Token {token.prefix} was already revoked on {_when(token.revoked_at)}."
            )
            return
        tokens.revoke_token(audit.Actor.system(), token)
        self.stdout.write(f"Revoked {token.prefix} ({token.name!r}) of {token.user.username}.")
