"""`manage.py staff_create USERNAME --role ROLE`: a staff account, password read from stdin.

It prints, once, the secret for her authenticator app and her recovery codes: staff sign in with
a password and a code (groups/services/second_factor.py). Nothing else ever shows them again.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groups import services
from groups.services import STAFF_ROLES
from project.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create a staff account. The password is read from standard input (one line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[str(r) for r in STAFF_ROLES])

    def handle(self, *args: Any, **options: Any) -> None:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            created = services.staff_create(
                actor=None,
                username=options["username"],
                password=password,
                org_role=options["role"],
            )
        except ApplicationError as exc:
            details = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in exc.extra.get("fields", {}).items()
            )
            raise CommandError(f"{exc.message} {details}".strip()) from None
        user, enrolment = created.user, created.enrolment
        self.stdout.write(f"Created {user.org_role} account {user.username!r}.")
        self.stdout.write(
            "Add this key to her authenticator app (shown only now):\n"
            f"  {enrolment.totp_secret}\n"
            "Recovery codes, each works once (give them to her, shown only now):\n  "
            + "\n  ".join(enrolment.recovery_codes)
        )
