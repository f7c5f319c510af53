"""`manage.py staff_enrol USERNAME`: a new authenticator key and recovery codes for a staff
account: for staff made before the second factor existed, or one who lost her phone or codes.

The old key and codes stop working; the new ones are printed once, as by `staff_create`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groups import services
from groups.models import User
from groups.policies import needs_second_factor


class Command(BaseCommand):
    help = "Give a staff account a new authenticator key and recovery codes (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        name = services.username_normalise(options["username"])
        user = User.objects.filter(username=name, is_active=True).first()
        if user is None or not needs_second_factor(user):
            raise CommandError("No active staff account has that username.")
        enrolment = services.second_factor_enrol(user=user)
        self.stdout.write(
            f"New second factor for {user.username!r}; the old key and codes no longer work.\n"
            "Add this key to her authenticator app (shown only now):\n"
            f"  {enrolment.totp_secret}\n"
            "Recovery codes, each works once (give them to her, shown only now):\n  "
            + "\n  ".join(enrolment.recovery_codes)
        )
