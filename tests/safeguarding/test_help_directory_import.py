"""Issue 17: `manage.py import_services` reads an Open Referral HSDS datapackage or a set of
HSDS CSV files, checks every row first (a problem imports nothing and names its file and row),
writes it all in one transaction, and a second import of the same file changes nothing."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from project.models import AuditEntry
from safeguarding.models import (
    HelpLocation,
    HelpOrganization,
    HelpPhone,
    HelpSchedule,
    HelpService,
)
from safeguarding.services import DirectoryInvalid, directory_import

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "safeguarding" / "fixtures" / "demo_directory"
MODELS = (HelpOrganization, HelpService, HelpLocation, HelpPhone, HelpSchedule)


def snapshot() -> dict[str, list[tuple]]:
    """Every directory row as plain values: equal snapshots mean the same directory."""
    return {
        model.__name__: sorted(map(repr, model.objects.values_list(*fields(model))))
        for model in MODELS
    }


def fields(model: type) -> list[str]:
    """Its columns but the primary key, a link named by the other row's HSDS id (primary keys
    differ between two imports of the same file)."""
    return [
        f"{field.name}__hsds_id" if field.is_relation else field.name
        for field in model._meta.concrete_fields
        if not field.primary_key
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A copy of the demo datapackage to spoil."""
    target = tmp_path / "directory"
    shutil.copytree(DEMO, target)
    return target


def spoil(folder: Path, file: str, row: int, **changes: str) -> None:
    rows = read_csv(folder / file)
    rows[row].update(changes)
    write_csv(folder / file, rows)


def problems_of(paths: list[Path]) -> list[str]:
    with pytest.raises(DirectoryInvalid) as caught:
        directory_import(actor=None, paths=paths)
    return [str(problem) for problem in caught.value.problems]


def test_the_demo_datapackage_imports_every_table(db: None) -> None:
    counts = directory_import(actor=None, paths=[DEMO / "datapackage.json"])

    assert (counts["organizations"], counts["services"], counts["phones"]) == (4, 6, 5)
    crisis = HelpService.objects.get(hsds_id="demo-crisis-line")
    assert crisis.category == "crisis_line"
    assert crisis.organization.hsds_id == "demo-riverside"
    assert [p.number for p in crisis.phones.all()] == ["0808 157 0123"]
    assert [s.description for s in crisis.schedules.all()] == ["24 hours, every day"]
    assert crisis.locations.get().location_type == "virtual"
    num = HelpService.objects.get(hsds_id="num-reports")
    assert num.url == "https://nationaluglymugs.org"
    assert not num.phones.exists()
    # "MO,TU,WE,TH,FR" becomes one row per weekday.
    weekdays = HelpSchedule.objects.filter(hsds_id="demo-sexual-violence-week")
    assert sorted(weekdays.values_list("weekday", flat=True)) == [1, 2, 3, 4, 5]
    assert {str(s.opens_at) for s in weekdays} == {"10:00:00"}


def test_a_folder_of_csv_files_and_the_files_themselves_import_the_same(db: None) -> None:
    directory_import(actor=None, paths=[DEMO])
    from_package = snapshot()
    for model in MODELS:
        model.objects.all().delete()

    directory_import(actor=None, paths=sorted(DEMO.glob("*.csv")))

    assert snapshot() == from_package


def test_importing_the_same_file_again_changes_nothing_and_writes_no_audit_row(
    db: None,
) -> None:
    directory_import(actor=None, paths=[DEMO])
    before, audited = snapshot(), AuditEntry.objects.count()

    counts = directory_import(actor=None, paths=[DEMO])

    assert snapshot() == before
    assert AuditEntry.objects.count() == audited
    assert (counts["created"], counts["updated"], counts["removed"]) == (0, 0, 0)


def test_a_changed_file_updates_entries_by_their_hsds_id(db: None, demo_copy: Path) -> None:
    directory_import(actor=None, paths=[demo_copy])
    crisis_pk = HelpService.objects.get(hsds_id="demo-crisis-line").pk
    spoil(demo_copy, "services.csv", 0, name="Riverside Night Line (demo)", status="inactive")
    phones = [row for row in read_csv(demo_copy / "phones.csv") if row["id"] != "demo-legal-1"]
    write_csv(demo_copy / "phones.csv", phones)

    counts = directory_import(actor=None, paths=[demo_copy])

    crisis = HelpService.objects.get(hsds_id="demo-crisis-line")
    assert (crisis.pk, crisis.name, crisis.status) == (
        crisis_pk,
        "Riverside Night Line (demo)",
        "inactive",
    )
    # A phone the file no longer lists for its service is gone.
    assert not HelpPhone.objects.filter(hsds_id="demo-legal-1").exists()
    assert HelpService.objects.count() == 6
    assert (counts["updated"], counts["removed"]) == (1, 1)


def test_an_import_is_audited_with_numbers_only(db: None) -> None:
    directory_import(actor=None, paths=[DEMO])

    entry = AuditEntry.objects.get(action="help_directory.imported")
    assert entry.extra["services"] == 6 and entry.extra["created"] > 0
    assert all(isinstance(value, int) for value in entry.extra.values())


@pytest.mark.parametrize(
    ("name", "row", "changes", "expected"),
    [
        (
            "services.csv",
            1,
            {"organization_id": "nobody"},
            'services.csv row 3: organization_id "nobody" is not in the organization table',
        ),
        (
            "schedules.csv",
            4,
            {"opens_at": "25:00"},
            "schedules.csv row 6: opens_at must be a time like 09:00 or 17:30",
        ),
        (
            "phones.csv",
            2,
            {"id": "demo-crisis-line-1"},
            'phones.csv row 4: phone id "demo-crisis-line-1" appears twice',
        ),
        (
            "phones.csv",
            0,
            {"service_id": "gone"},
            'phones.csv row 2: service_id "gone" is not in the service table',
        ),
        (
            "services.csv",
            0,
            {"category": "crisis"},
            "services.csv row 2: category must be one of",
        ),
        ("schedules.csv", 5, {"byday": "XX"}, "schedules.csv row 7: weekday must be 1-7"),
        ("services.csv", 0, {"url": "javascript:alert(1)"}, "services.csv row 2: url is not"),
    ],
    ids=[
        "unknown-organization",
        "bad-time",
        "duplicate-id",
        "unknown-service",
        "bad-category",
        "bad-weekday",
        "bad-url",
    ],
)
def test_a_broken_csv_file_names_its_row_and_imports_nothing(
    db: None,
    demo_copy: Path,
    name: str,
    row: int,
    changes: dict[str, str],
    expected: str,
) -> None:
    directory_import(actor=None, paths=[DEMO])
    spoil(demo_copy, "services.csv", 0, name="Changed (demo)")
    spoil(demo_copy, name, row, **changes)
    before, audited = snapshot(), AuditEntry.objects.count()

    problems = problems_of(sorted(demo_copy.glob("*.csv")))

    assert any(problem.startswith(expected) for problem in problems), problems
    # The good change in the same file is not imported either.
    assert snapshot() == before
    assert AuditEntry.objects.count() == audited


def test_a_missing_column_is_named_and_nothing_is_imported(db: None, demo_copy: Path) -> None:
    rows = [
        {k: v for k, v in row.items() if k != "number"}
        for row in read_csv(demo_copy / "phones.csv")
    ]
    write_csv(demo_copy / "phones.csv", rows)

    assert problems_of([demo_copy]) == ['phones.csv: the "number" column is missing']
    assert snapshot() == {model.__name__: [] for model in MODELS}


def test_every_problem_is_reported_at_once(db: None, demo_copy: Path) -> None:
    spoil(demo_copy, "services.csv", 0, organization_id="nobody")
    spoil(demo_copy, "schedules.csv", 1, closes_at="late")

    problems = problems_of([demo_copy / "datapackage.json"])

    assert len(problems) == 2
    assert problems[0].startswith("services.csv row 2:")
    assert problems[1].startswith("schedules.csv row 3: closes_at")


def test_a_json_datapackage_with_inline_rows_imports_and_is_checked_the_same(
    db: None, tmp_path: Path
) -> None:
    package = {
        "resources": [
            {"name": "organization", "data": [{"id": "o1", "name": "Org"}]},
            {
                "name": "service",
                "data": [
                    {"id": "s1", "organization_id": "o1", "name": "Line", "category": "legal"}
                ],
            },
            {
                "name": "regular_schedule",
                "data": [
                    {
                        "id": "r1",
                        "service_id": "s1",
                        "weekday": 3,
                        "opens_at": "9:00",
                        "closes_at": "12:30",
                    }
                ],
            },
            {"name": "taxonomy", "data": [{"id": "t1"}]},
        ]
    }
    path = tmp_path / "datapackage.json"
    path.write_text(json.dumps(package))

    directory_import(actor=None, paths=[path])

    schedule = HelpSchedule.objects.get(hsds_id="r1")
    assert (schedule.weekday, str(schedule.opens_at), schedule.service.category) == (
        3,
        "09:00:00",
        "legal",
    )
    package["resources"][2]["data"][0]["service_id"] = "s2"
    package["resources"][1]["data"].append({"id": "s1", "organization_id": "o1", "name": "Two"})
    path.write_text(json.dumps(package))
    assert problems_of([path]) == [
        'datapackage.json resource service item 2: service id "s1" appears twice',
        'datapackage.json resource regular_schedule item 1: service_id "s2" is not in the '
        "service table",
    ]


def test_a_datapackage_path_may_not_leave_its_folder(db: None, tmp_path: Path) -> None:
    package = {"resources": [{"name": "organization", "path": "../../etc/passwd"}]}
    (tmp_path / "datapackage.json").write_text(json.dumps(package))

    assert problems_of([tmp_path]) == ["datapackage.json resource 1: needs a CSV path beside it"]


def test_an_unreadable_file_is_a_clear_problem(db: None, tmp_path: Path) -> None:
    (tmp_path / "datapackage.json").write_text("{not json")

    assert problems_of([tmp_path / "datapackage.json"]) == [
        "datapackage.json: is not a readable JSON file"
    ]
    assert problems_of([tmp_path / "nothing.json"]) == ["nothing.json: is not a readable JSON file"]


def test_the_command_prints_each_problem_and_fails_without_importing(
    db: None, demo_copy: Path
) -> None:
    spoil(demo_copy, "phones.csv", 0, number="call me")
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported: 1 problem"):
        call_command("import_services", str(demo_copy), stderr=err)

    assert "phones.csv row 2: number may only have digits" in err.getvalue()
    assert not HelpService.objects.exists()


def test_the_command_imports_and_says_how_many(db: None) -> None:
    out = io.StringIO()

    call_command("import_services", str(DEMO / "datapackage.json"), stdout=out)

    assert "Imported 4 organisations, 6 services" in out.getvalue()
    assert HelpService.objects.count() == 6


def hsds3_set(folder: Path, **schedule: str) -> list[Path]:
    """A small HSDS 3 CSV set: places and phones linked through service_at_location, the
    address in its own table, times with a UTC offset."""
    folder.mkdir()
    tables = {
        "organizations.csv": [{"id": "o1", "name": "Org", "website": "https://example.org"}],
        "services.csv": [{"id": "s1", "organization_id": "o1", "name": "Clinic"}],
        "locations.csv": [{"id": "l1", "name": "Main clinic", "location_type": "physical"}],
        "addresses.csv": [
            {"id": "a1", "location_id": "l1", "address_1": "1 Example Street", "city": "Town"}
        ],
        "service_at_locations.csv": [{"id": "sal1", "service_id": "s1", "location_id": "l1"}],
        "phones.csv": [{"id": "p1", "service_at_location_id": "sal1", "number": "01632 960000"}],
        "schedules.csv": [
            {
                "id": "r1",
                "service_at_location_id": "sal1",
                "byday": "TH",
                "opens_at": "09:00Z",
                "closes_at": "17:00:00+01:00",
                **schedule,
            }
        ],
    }
    for name, rows in tables.items():
        write_csv(folder / name, rows)
    return sorted(folder.glob("*.csv"))


def test_an_hsds_3_set_links_places_phones_and_times_through_service_at_location(
    db: None, tmp_path: Path
) -> None:
    directory_import(actor=None, paths=hsds3_set(tmp_path / "hsds3"))

    clinic = HelpService.objects.get(hsds_id="s1")
    assert clinic.organization.url == "https://example.org"
    assert clinic.locations.get().address == "1 Example Street, Town"
    assert [p.number for p in clinic.phones.all()] == ["01632 960000"]
    opening = clinic.schedules.get()
    assert (opening.weekday, str(opening.opens_at), str(opening.closes_at)) == (
        4,
        "09:00:00",
        "17:00:00",
    )


def test_a_day_in_the_month_is_not_read_as_a_weekday(db: None, tmp_path: Path) -> None:
    paths = hsds3_set(tmp_path / "hsds3", byday="2TH")

    problems = problems_of(paths)
    assert problems[0] == "schedules.csv row 2: 2TH (a day in the month): use a description"
    assert not HelpService.objects.exists()
