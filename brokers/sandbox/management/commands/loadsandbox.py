"""`manage.py loadsandbox`: load (or roll forward) the sandbox's master contract."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from brokers.sandbox.contracts import load_sandbox_universe


class Command(BaseCommand):
    help = "Add the sandbox's instruments for today: cash, indices, futures and option chains."

    def handle(self, *args: Any, **options: Any) -> None:
        added = load_sandbox_universe()
        self.stdout.write(f"Sandbox master contract: {added} instruments added")
