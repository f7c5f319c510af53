"""Importing the "Get help now" directory from Open Referral HSDS files (issue 17).

`directory_import` reads an HSDS datapackage (`datapackage.json`, whose resources are CSV files
beside it or inline rows) or a set of HSDS CSV files (a folder, or the files themselves), checks
every row before writing anything, and then writes the whole directory in one transaction: a
file with any problem imports nothing, and every problem is reported with its file and row.
Importing the same file again changes nothing; a changed file updates entries by their HSDS id.
Services and organisations that are not in the file are left as they are (staff switch a
service off in the admin).

Both the HSDS 2.x and 3.x spellings of the common columns are read (`url` or `website`,
`weekday` or `byday`, `eligibility` or `eligibility_description`, `regular_schedule` or
`schedule`). Haven adds two optional service columns of its own: `category` (where the service
sits on the help page, one of `HelpCategory`) and `sort_order`.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from groups.models import User
from project.audit import audit_record
from safeguarding.models import (
    HelpCategory,
    HelpLocation,
    HelpLocationType,
    HelpOrganization,
    HelpPhone,
    HelpSchedule,
    HelpService,
    HelpServiceStatus,
)

# Each HSDS table under the names its files and datapackage resources go by.
TABLE_NAMES: dict[str, tuple[str, ...]] = {
    "organization": ("organization", "organizations"),
    "service": ("service", "services"),
    "location": ("location", "locations"),
    "address": ("address", "addresses"),
    "service_at_location": ("service_at_location", "service_at_locations"),
    "phone": ("phone", "phones"),
    "schedule": ("schedule", "schedules", "regular_schedule", "regular_schedules"),
}
REQUIRED_TABLES = ("organization", "service")
# Columns a table must have (an alternative spelling is a tuple).
REQUIRED_COLUMNS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "organization": ("id", "name"),
    "service": ("id", "organization_id", "name"),
    "location": ("id",),
    "address": ("location_id",),
    "service_at_location": ("service_id", "location_id"),
    "phone": ("id", ("service_id", "service_at_location_id"), "number"),
    "schedule": ("id", ("service_id", "service_at_location_id")),
}
ADDRESS_COLUMNS = ("address_1", "address_2", "city", "postal_code")
STATUSES = {
    "active": HelpServiceStatus.ACTIVE,
    "inactive": HelpServiceStatus.INACTIVE,
    "defunct": HelpServiceStatus.INACTIVE,
    "temporarily closed": HelpServiceStatus.INACTIVE,
}
WEEKDAYS = {
    **{code: n for n, code in enumerate(("mo", "tu", "we", "th", "fr", "sa", "su"), start=1)},
    **{
        name: n
        for n, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            start=1,
        )
    },
    **{str(n): n for n in range(1, 8)},
}
AREA_COLUMNS = ("area", "region", "state_province", "city")
# HH:MM or HH:MM:SS; HSDS 3 may add a UTC offset ("09:00Z", "09:00-05:00"), which a directory
# of local services does not need.
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?:Z|[+-]\d\d:?\d\d)?$")
_url = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class DirectoryProblem:
    """One thing wrong with a file: where (a file and a row) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DirectoryInvalid(Exception):
    """The files could not be imported; `problems` says every reason. Nothing was written."""

    def __init__(self, problems: list[DirectoryProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the directory files")
        self.problems = problems


@dataclass
class Table:
    label: str  # the file's name, as the problems name it
    columns: list[str]
    rows: list[tuple[str, dict[str, str]]]  # (where, row)


@dataclass
class Plan:
    """Everything checked and ready to write, keyed by HSDS id."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    phones: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[tuple[str, int | None], dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "organizations": len(self.organizations),
            "services": len(self.services),
            "locations": len(self.locations),
            "phones": len(self.phones),
            "schedules": len(self.schedules),
        }


# --- Reading the files ----------------------------------------------------------------------


def _table_kind(name: str) -> str | None:
    stem = name.lower().removesuffix(".csv").replace("-", "_")
    return next((kind for kind, names in TABLE_NAMES.items() if stem in names), None)


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _csv_table(path: Path, label: str) -> Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [_clean(c).lower() for c in reader.fieldnames or []]
            rows = [
                (
                    f"{label} row {reader.line_num}",
                    {_clean(k).lower(): _clean(v) for k, v in raw.items() if isinstance(k, str)},
                )
                for raw in reader
                if any(_clean(v) for v in raw.values())
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DirectoryInvalid(
            [DirectoryProblem(label, f"cannot be read as UTF-8 CSV ({type(error).__name__})")]
        ) from None
    return Table(label=label, columns=columns, rows=rows)


def _datapackage_tables(path: Path) -> dict[str, Table]:
    label = path.name
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise DirectoryInvalid([DirectoryProblem(label, "is not a readable JSON file")]) from None
    resources = package.get("resources") if isinstance(package, dict) else None
    if not isinstance(resources, list):
        raise DirectoryInvalid([DirectoryProblem(label, 'has no "resources" list')])
    tables: dict[str, Table] = {}
    for number, resource in enumerate(resources, start=1):
        if not isinstance(resource, dict):
            where = f"{label} resource {number}"
            raise DirectoryInvalid([DirectoryProblem(where, "is not an object")])
        kind = _table_kind(_clean(resource.get("name")))
        if kind is None:
            continue  # HSDS tables Haven does not keep (taxonomy, contact, ...)
        if isinstance(resource.get("data"), list):
            where = f"{label} resource {resource['name']}"
            rows = [
                (f"{where} item {n}", {_clean(k).lower(): _clean(v) for k, v in item.items()})
                for n, item in enumerate(resource["data"], start=1)
                if isinstance(item, dict)
            ]
            columns = sorted({column for _w, row in rows for column in row})
            tables[kind] = Table(label=where, columns=columns, rows=rows)
            continue
        relative = _clean(resource.get("path"))
        target = (path.parent / relative).resolve()
        if not relative or path.parent.resolve() not in target.parents:
            raise DirectoryInvalid(
                [DirectoryProblem(f"{label} resource {number}", "needs a CSV path beside it")]
            )
        tables[kind] = _csv_table(target, relative)
    return tables


def directory_tables(paths: Sequence[Path]) -> dict[str, Table]:
    """The HSDS tables in `paths`: one datapackage.json (or a folder holding one), a folder of
    CSV files, or the CSV files themselves."""
    if len(paths) == 1 and paths[0].is_dir():
        package = paths[0] / "datapackage.json"
        if package.exists():
            return _datapackage_tables(package)
        paths = sorted(paths[0].glob("*.csv"))
    if len(paths) == 1 and paths[0].suffix.lower() == ".json":
        return _datapackage_tables(paths[0])
    tables: dict[str, Table] = {}
    for path in paths:
        kind = _table_kind(path.name)
        if kind is None:
            continue
        if kind in tables:
            raise DirectoryInvalid([DirectoryProblem(path.name, f"a second {kind} table")])
        tables[kind] = _csv_table(path, path.name)
    return tables


# --- Checking every row ---------------------------------------------------------------------


class _Checker:
    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.problems: list[DirectoryProblem] = []
        self.plan = Plan()
        # HSDS service_at_location ids, for phones and opening times given by one.
        self.service_at_location: dict[str, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(DirectoryProblem(where, message))

    def rows(self, kind: str) -> Iterable[tuple[str, dict[str, str]]]:
        table = self.tables.get(kind)
        return table.rows if table else ()

    def columns(self) -> bool:
        """Every table Haven needs is there with its columns; False stops the check early."""
        ok = True
        for kind in REQUIRED_TABLES:
            if kind not in self.tables:
                self.problem(TABLE_NAMES[kind][1], f"the {kind} table is missing")
                ok = False
        for kind, table in self.tables.items():
            for column in REQUIRED_COLUMNS[kind]:
                names = column if isinstance(column, tuple) else (column,)
                if table.rows and not set(names) & set(table.columns):
                    self.problem(table.label, f'the "{names[0]}" column is missing')
                    ok = False
        return ok

    def text(self, where: str, row: dict[str, str], *names: str, limit: int = 0) -> str:
        value = next((row[n] for n in names if row.get(n)), "")
        if limit and len(value) > limit:
            self.problem(where, f"{names[0]} is longer than {limit} characters")
        return value

    def required(self, where: str, row: dict[str, str], name: str, limit: int = 0) -> str:
        value = self.text(where, row, name, limit=limit)
        if not value:
            self.problem(where, f"{name} is empty")
        return value

    def unique(self, where: str, seen: dict[str, Any], hsds_id: str, kind: str) -> bool:
        if hsds_id and hsds_id in seen:
            self.problem(where, f'{kind} id "{hsds_id}" appears twice')
            return False
        return bool(hsds_id)

    def url(self, where: str, row: dict[str, str], *names: str) -> str:
        value = self.text(where, row, *names, limit=500)
        try:
            if value:
                _url(value)
        except ValidationError:
            self.problem(where, f"{names[0]} is not a web address (http or https)")
        return value

    def email(self, where: str, row: dict[str, str]) -> str:
        value = self.text(where, row, "email", limit=254)
        try:
            if value:
                validate_email(value)
        except ValidationError:
            self.problem(where, "email is not an e-mail address")
        return value

    def service_ref(self, where: str, service_id: str) -> bool:
        if service_id and service_id not in self.plan.services:
            self.problem(where, f'service_id "{service_id}" is not in the service table')
            return False
        return bool(service_id)

    def organizations(self) -> None:
        for where, row in self.rows("organization"):
            hsds_id = self.required(where, row, "id", 100)
            values = {
                "name": self.required(where, row, "name", 200),
                "description": self.text(where, row, "description"),
                "url": self.url(where, row, "url", "website"),
                "email": self.email(where, row),
            }
            if self.unique(where, self.plan.organizations, hsds_id, "organization"):
                self.plan.organizations[hsds_id] = values

    def services(self) -> None:
        for where, row in self.rows("service"):
            hsds_id = self.required(where, row, "id", 100)
            organization_id = self.required(where, row, "organization_id")
            if organization_id and organization_id not in self.plan.organizations:
                self.problem(
                    where, f'organization_id "{organization_id}" is not in the organization table'
                )
            status = STATUSES.get(self.text(where, row, "status").lower() or "active")
            if status is None:
                self.problem(where, f"status must be one of {', '.join(STATUSES)}")
            category = self.text(where, row, "category").lower() or HelpCategory.OTHER
            if category not in HelpCategory.values:
                self.problem(where, f"category must be one of {', '.join(HelpCategory.values)}")
            sort_order = self.text(where, row, "sort_order") or "0"
            if not re.fullmatch(r"-?\d{1,6}", sort_order):
                self.problem(where, "sort_order must be a whole number")
            values = {
                "organization_id": organization_id,
                "name": self.required(where, row, "name", 200),
                "description": self.text(where, row, "description"),
                "url": self.url(where, row, "url", "website"),
                "email": self.email(where, row),
                "status": status,
                "eligibility_description": self.text(
                    where, row, "eligibility_description", "eligibility"
                ),
                "application_process": self.text(where, row, "application_process"),
                "fees_description": self.text(where, row, "fees_description", "fees"),
                "category": category,
                "sort_order": int(sort_order) if re.fullmatch(r"-?\d{1,6}", sort_order) else 0,
            }
            if self.unique(where, self.plan.services, hsds_id, "service"):
                self.plan.services[hsds_id] = values

    def service_of(self, where: str, row: dict[str, str]) -> str:
        """The service a phone or an opening time belongs to: its service_id, or the service of
        its service_at_location_id."""
        if row.get("service_id") or not row.get("service_at_location_id"):
            service_id = self.required(where, row, "service_id")
        elif row["service_at_location_id"] in self.service_at_location:
            service_id = self.service_at_location[row["service_at_location_id"]]
        else:
            self.problem(
                where,
                f'service_at_location_id "{row["service_at_location_id"]}" is not in the '
                "service_at_location table",
            )
            return ""
        self.service_ref(where, service_id)
        return service_id

    def locations(self) -> None:
        links: dict[str, list[str]] = {}
        for where, row in self.rows("service_at_location"):
            if self.service_ref(where, self.required(where, row, "service_id")):
                links.setdefault(self.required(where, row, "location_id"), []).append(
                    row["service_id"]
                )
                if row.get("id"):
                    self.service_at_location[row["id"]] = row["service_id"]
        addresses = {
            row["location_id"]: ", ".join(row[n] for n in ADDRESS_COLUMNS if row.get(n))
            for _where, row in self.rows("address")
        }
        seen: dict[str, Any] = {}
        for where, row in self.rows("location"):
            hsds_id = self.required(where, row, "id", 90)
            if not self.unique(where, seen, hsds_id, "location"):
                continue
            seen[hsds_id] = True
            own = row.get("service_id", "")
            services = [own] if own else links.get(hsds_id, [])
            if not services:
                self.problem(where, "no service_id, and no service_at_location row names it")
            address = (
                self.text(where, row, "address")
                or addresses.get(hsds_id)
                or ", ".join(row[n] for n in ADDRESS_COLUMNS if row.get(n))
            )
            kind = self.text(where, row, "location_type").lower()
            kind = {"postal": "physical", "": ""}.get(kind, kind)
            if kind and kind not in HelpLocationType.values:
                self.problem(where, "location_type must be physical or virtual")
            values = {
                "location_type": kind
                or (HelpLocationType.PHYSICAL if address else HelpLocationType.VIRTUAL),
                "name": self.text(where, row, "name", limit=200),
                "description": self.text(where, row, "description"),
                "address": address,
                "area": self.text(where, row, *AREA_COLUMNS, limit=200),
            }
            for service_id in services:
                if self.service_ref(where, service_id):
                    key = hsds_id if len(services) == 1 else f"{hsds_id}@{service_id}"
                    self.plan.locations[key] = {**values, "service_id": service_id}
        for location_id in set(links) - set(seen):
            self.problem("service_at_location", f'location_id "{location_id}" is not a location')

    def phones(self) -> None:
        for where, row in self.rows("phone"):
            hsds_id = self.required(where, row, "id", 100)
            service_id = self.service_of(where, row)
            number = self.required(where, row, "number", 50)
            if number and not re.fullmatch(r"[0-9+() .\-]{3,50}", number):
                self.problem(where, "number may only have digits, spaces, +, ( ) and -")
            values = {
                "service_id": service_id,
                "number": number,
                "description": self.text(where, row, "description", limit=300),
            }
            if self.unique(where, self.plan.phones, hsds_id, "phone"):
                self.plan.phones[hsds_id] = values

    def time(self, where: str, row: dict[str, str], name: str) -> time | None:
        value = row.get(name, "")
        if not value:
            return None
        match = TIME.match(value)
        if match is None:
            self.problem(where, f"{name} must be a time like 09:00 or 17:30")
            return None
        return time(int(match[1]), int(match[2]), int(match[3] or 0))

    def schedules(self) -> None:
        seen: dict[str, Any] = {}
        for where, row in self.rows("schedule"):
            hsds_id = self.required(where, row, "id", 100)
            service_id = self.service_of(where, row)
            opens_at = self.time(where, row, "opens_at")
            closes_at = self.time(where, row, "closes_at")
            if bool(row.get("opens_at")) != bool(row.get("closes_at")):
                self.problem(where, "opens_at and closes_at go together")
            raw_days = self.text(where, row, "weekday", "byday").lower()
            days: list[int | None] = []
            for part in filter(None, re.split(r"[,\s]+", raw_days)):
                if re.fullmatch(r"[+-]?\d+[a-z]{2}", part):
                    self.problem(where, f"{part.upper()} (a day in the month): use a description")
                elif part not in WEEKDAYS:
                    self.problem(where, "weekday must be 1-7 (1 is Monday), a day name or MO-SU")
                else:
                    days.append(WEEKDAYS[part])
            description = self.text(where, row, "description", limit=300)
            if not days and not description:
                self.problem(where, "needs a weekday (or byday) or a description")
            if opens_at and not days:
                self.problem(where, "opening times need a weekday (or byday)")
            if days and not (opens_at or description):
                self.problem(where, "a weekday needs opening times or a description")
            if not self.unique(where, seen, hsds_id, "schedule"):
                continue
            seen[hsds_id] = True
            for day in days or [None]:
                self.plan.schedules[(hsds_id, day)] = {
                    "service_id": service_id,
                    "opens_at": opens_at,
                    "closes_at": closes_at,
                    "description": description,
                }


def directory_check(tables: dict[str, Table]) -> Plan:
    """Check every row of `tables`; raise `DirectoryInvalid` listing every problem found."""
    checker = _Checker(tables)
    if checker.columns():
        checker.organizations()
        checker.services()
        checker.locations()
        checker.phones()
        checker.schedules()
    if checker.problems:
        raise DirectoryInvalid(checker.problems)
    return checker.plan


# --- Writing --------------------------------------------------------------------------------


def _upsert(
    model: type[Any], changes: Counter[str], lookup: dict[str, Any], values: dict[str, Any]
) -> Any:
    """The row of `model` found by `lookup`, made or brought up to date with `values`; counts
    what it did in `changes` (an unchanged row is not saved again)."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        changes["created"] += 1
        return model.objects.create(**lookup, **values)
    stale = [name for name, value in values.items() if getattr(row, name) != value]
    if stale:
        for name in stale:
            setattr(row, name, values[name])
        row.save(update_fields=stale)
        changes["updated"] += 1
    return row


@transaction.atomic
def directory_import(*, actor: User | None, paths: Sequence[Path]) -> dict[str, int]:
    """Import the HSDS directory in `paths` (see the module docstring): all of it, or nothing
    and `DirectoryInvalid`. Returns how many of each were in the files, and how many rows were
    created, updated and removed. An import that changed something is audited, with the
    numbers only."""
    plan = directory_check(directory_tables(paths))
    changes: Counter[str] = Counter(created=0, updated=0, removed=0)
    organizations = {
        hsds_id: _upsert(HelpOrganization, changes, {"hsds_id": hsds_id}, values)
        for hsds_id, values in plan.organizations.items()
    }
    services = {}
    for hsds_id, values in plan.services.items():
        organization = organizations[values.pop("organization_id")]
        values = {**values, "organization": organization}
        services[hsds_id] = _upsert(HelpService, changes, {"hsds_id": hsds_id}, values)
    kept: dict[type, set[int]] = {HelpLocation: set(), HelpPhone: set(), HelpSchedule: set()}
    children: list[tuple[type, dict[str, Any], dict[str, Any]]] = [
        *((HelpLocation, {"hsds_id": key}, values) for key, values in plan.locations.items()),
        *((HelpPhone, {"hsds_id": key}, values) for key, values in plan.phones.items()),
        *(
            (HelpSchedule, {"hsds_id": key, "weekday": day}, values)
            for (key, day), values in plan.schedules.items()
        ),
    ]
    for model, lookup, values in children:
        service = services[values.pop("service_id")]
        values = {**values, "service": service}
        kept[model].add(_upsert(model, changes, lookup, values).pk)
    # The file is the whole truth about the services it names: what it no longer lists goes.
    for model, pks in kept.items():
        gone = model.objects.filter(service__in=services.values()).exclude(pk__in=pks)
        changes["removed"] += gone.delete()[0]
    counts = {**plan.counts(), **changes}
    if changes.total():
        audit_record(actor=actor, action="help_directory.imported", extra=counts)
    return counts
