"""`manage.py purge_expired [--dry-run]`: delete message text past each group's retention, and
tokens and browser sessions that can no longer sign anyone in. Idempotent. A successful run is
recorded where `/readyz` reads it (project/health.py); a dry run only counts."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from groups.services import credentials_purge_expired
from project.health import PURGE_RUN, maintenance_run_finished
from safeguarding.services import purge_expired


class Command(BaseCommand):
    help = (
        "Delete message text older than each group's retention_days, except messages an open "
        "concern refers to, and expired tokens and browser sessions. Run it daily (cron or a "
        "systemd timer). --dry-run counts what it would delete and changes nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be deleted; change nothing (not recorded as a run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        result = purge_expired(dry_run=dry_run)
        dead = credentials_purge_expired(dry_run=dry_run)
        if dry_run:
            self.stdout.write(
                f"Dry run, nothing changed. Would purge {result['purged']} messages and "
                f"{result['texts']} other texts; {result['held_by_open_concerns']} messages kept "
                f"for open concerns. Would delete {dead['tokens']} expired tokens and "
                f"{dead['sessions']} expired browser sessions."
            )
            return
        self.stdout.write(
            f"Purged {result['purged']} messages; {result['held_by_open_concerns']} kept "
            "for open concerns."
        )
        self.stdout.write(
            f"Deleted {dead['tokens']} expired tokens and {dead['sessions']} expired browser "
            "sessions."
        )
        maintenance_run_finished(PURGE_RUN)
