"""`manage.py resetsandbox USERNAME`: start a user's paper account over (capital restored,
every paper order, trade, position and holding removed)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from brokers.sandbox.sessions import reset_account


class Command(BaseCommand):
    help = "Reset a user's sandbox (paper trading) account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        account = reset_account(user)
        self.stdout.write(f"Sandbox account of {username} reset (reset #{account.reset_count}); "
                          f"capital {account.cash:.2f}")
