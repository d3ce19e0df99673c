"""`manage.py verifyaudit`: check the audit trail's hash chain end to end."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail; exits non-zero at the first broken event."

    def handle(self, *args, **options) -> None:
        checked, broken = verify()
        if broken is not None:
            raise CommandError(f"Audit chain broken at event {broken.pk} ({broken}); {checked} events before it "
                               "are intact")
        self.stdout.write(f"Audit chain intact: {checked} events")
