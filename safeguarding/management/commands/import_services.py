"""`manage.py import_services FILE [FILE ...]`: import the "Get help now" directory from an Open
Referral HSDS datapackage or a set of HSDS CSV files (safeguarding.services.directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeguarding.services import DirectoryInvalid, directory_import


class Command(BaseCommand):
    help = (
        "Import help services from an HSDS datapackage.json (or a folder holding one), a folder "
        "of HSDS CSV files, or the CSV files themselves. Every row is checked first: with any "
        "problem nothing is imported. Importing again updates entries by their HSDS id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = directory_import(actor=None, paths=options["files"])
        except DirectoryInvalid as invalid:
            for problem in invalid.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Nothing was imported: {len(invalid.problems)} problem(s) to fix first."
            ) from None
        self.stdout.write(
            "Imported {organizations} organisations, {services} services, {locations} "
            "locations, {phones} phones and {schedules} opening times.".format(**counts)
        )
