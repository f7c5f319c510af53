"""`manage.py escalate_overdue`: hand every concern nobody acknowledged in time to the
safeguarding leads. Idempotent; run it every few minutes from cron or a systemd timer (the
pages also run it when a member of staff loads one, for an install with no cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from safeguarding.services import concerns_escalate_overdue


class Command(BaseCommand):
    help = (
        "Escalate to the safeguarding leads every concern still waiting past its answer-by "
        "time, urgent ones first. Safe to run as often as you like (every 5 minutes)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = concerns_escalate_overdue()
        self.stdout.write(f"Escalated {count} concerns past their answer-by time.")
