"""`manage.py reconcile [--orphans-only]`: compare ledgers with the brokers' books now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from orders.reconcile import reconcile_all


class Command(BaseCommand):
    help = "Reconcile the order ledger with each broker's order book, trade book and positions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--orphans-only", action="store_true",
                            help="only accounts with orders left unanswered by a stopped process or a timeout")

    def handle(self, *args, orphans_only: bool = False, **options) -> None:
        runs = reconcile_all(trigger="manual", orphans_only=orphans_only)
        for run in runs:
            state = (f"error: {run.error}" if run.error
                     else f"{len(run.fixed)} corrected, {len(run.differences)} differences")
            self.stdout.write(f"{run.user.username} @ {run.broker}: {run.checked_orders} checked, {state}")
        if not runs:
            self.stdout.write("Nothing to reconcile.")
