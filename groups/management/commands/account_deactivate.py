"""`manage.py account_deactivate USERNAME`: switch an account off from the command line (a
member's or a staff member's), through `services.account_deactivate`: her tokens and browser
sessions end and every live socket of hers closes at once. Audited as done by nobody signed
in (the command line)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groups import services
from groups.models import User


class Command(BaseCommand):
    help = (
        "Switch an account off now: its tokens and browser sessions end and its live "
        "connections close. Switching it on again is on the staff page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        name = services.username_normalise(options["username"])
        user = User.objects.filter(username=name).first() if name else None
        if user is None:
            raise CommandError("No account has that username. Nothing was changed.")
        if not user.is_active:
            self.stdout.write(f"Account {user.username!r} was already switched off.")
            return
        services.account_deactivate(actor=None, user=user)
        self.stdout.write(
            f"Switched off account {user.username!r}: its tokens, browser sessions and live "
            "connections have ended."
        )
