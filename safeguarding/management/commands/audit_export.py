"""`manage.py audit_export --since DATE [--until DATE] [--format csv|json] --as USERNAME`: the
audit log from a day on, as the audit page's download gives it to that safeguarding lead or
admin (the same concern rule, the same names, no text: `oversight.audit_csv`/`audit_json`), on
standard output. The export is recorded as hers, as a download from the page is."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from groups.models import User
from groups.policies import Action, can
from groups.services import username_normalise
from safeguarding import oversight
from safeguarding.services import audit_exported


def _day(raw: str, option: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2026-01-31.") from None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = (
        "Write the audit log from --since (a date) on, as CSV or JSON, as the audit page's "
        "download gives it to the safeguarding lead or admin named by --as. No message or "
        "concern text. The export is itself recorded in the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument(
            "--as",
            dest="viewer",
            required=True,
            metavar="USERNAME",
            help="The safeguarding lead or admin whose view of the log is exported.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = _day(options["since"], "--since")
        until = _day(options["until"], "--until") if options["until"] else None
        if until is not None and until < since:
            raise CommandError("--until must be the same day as --since or later.")
        viewer = User.objects.filter(username=username_normalise(options["viewer"])).first()
        if viewer is None or not can(viewer, Action.AUDIT_VIEW):
            raise CommandError(
                "--as must name an active safeguarding lead or admin account "
                "(nobody else may read the audit log)."
            )
        filters = oversight.AuditFilters(
            since=_start_of(since),
            until=_start_of(until + timedelta(days=1)) if until else None,
        )
        picked = list(
            oversight.audit_filtered(viewer=viewer, filters=filters)[: oversight.AUDIT_EXPORT_MAX]
        )
        rows = oversight.audit_named(viewer=viewer, entries=picked)
        if options["format"] == "json":
            self.stdout.write(json.dumps(oversight.audit_json(rows), ensure_ascii=False, indent=1))
        else:
            oversight.audit_csv(rows, self.stdout)
        chosen = {"since": since.isoformat(), "until": until.isoformat() if until else None}
        audit_exported(actor=viewer, filters=chosen, count=len(picked))
