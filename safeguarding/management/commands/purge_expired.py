"""`manage.py purge_expired`: delete message text past each group's retention, and tokens and
browser sessions that can no longer sign anyone in. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from groups.services import credentials_purge_expired
from safeguarding.services import purge_expired


class Command(BaseCommand):
    help = (
        "Delete message text older than each group's retention_days, except messages an open "
        "concern refers to, and expired tokens and browser sessions. Run it daily (cron or a "
        "systemd timer)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = purge_expired()
        self.stdout.write(
            f"Purged {result['purged']} messages; {result['held_by_open_concerns']} kept "
            "for open concerns."
        )
        dead = credentials_purge_expired()
        self.stdout.write(
            f"Deleted {dead['tokens']} expired tokens and {dead['sessions']} expired browser "
            "sessions."
        )
