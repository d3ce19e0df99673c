"""`manage.py apikey USERNAME`: issue a fresh API key (revoking the old) and print it last."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import create_api_key


class Command(BaseCommand):
    help = "Create a fresh API key for USERNAME, revoking the previous one; prints the key on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}") from exc
        key = create_api_key(user=user)
        self.stderr.write(f"New API key for {username}; the previous key no longer works. Store it now:")
        self.stdout.write(key)
