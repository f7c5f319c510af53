"""`manage.py audit_export --since DATE [--format csv|json] --as USERNAME` (issue 19): the audit
page's download on the command line: the same columns, the same concern rule, no text; bad
input is a clear error that writes nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from project.models import AuditEntry
from tests.conftest import manage_py
from tests.safeguarding import BODY, raise_concern

pytestmark = pytest.mark.django_db


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_export", *args, stdout=out)
    return out.getvalue()


def today() -> str:
    return timezone.localdate().isoformat()


def test_csv_has_the_pages_columns_and_no_concern_text(world):
    concern_id = raise_concern(world)

    text = export("--since", today(), "--as", "lead")

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["When", "Who", "Action", "About", "Group", "Details"]
    assert any(row[2] == "account.deactivated" for row in rows[1:])
    assert BODY not in text
    # The lead does not see a concern that was never escalated to her: not even its entry.
    assert f"Concern {concern_id}" not in text


def test_json_lists_the_same_entries_and_the_export_is_recorded_as_hers(world):
    text = export("--since", today(), "--format", "json", "--as", "admin")

    rows = json.loads(text)
    assert rows and {"when", "who", "action", "about", "group", "details"} == set(rows[0])
    assert any(row["action"] == "account.deactivated" for row in rows)
    entry = AuditEntry.objects.get(action="audit.exported")
    assert entry.actor == world.users["admin"]
    assert entry.extra == {"count": len(rows), "since": today()}


def test_entries_before_since_are_left_out(world):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()

    assert json.loads(export("--since", tomorrow, "--format", "json", "--as", "admin")) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday", "--as", "admin"], "--since must be a date"),
        (["--since", "2026-02-30", "--as", "admin"], "--since must be a date"),
        (["--since", "2026-03-02", "--until", "2026-03-01", "--as", "admin"], "--until must"),
        (["--since", "2026-03-01", "--as", "rose"], "--as must name an active"),
        (["--since", "2026-03-01", "--as", "fac-a"], "--as must name an active"),
        (["--since", "2026-03-01", "--as", "nobody"], "--as must name an active"),
    ],
)
def test_bad_input_is_a_clear_error_and_records_nothing(world, args, says):
    before = AuditEntry.objects.count()

    with pytest.raises(CommandError, match=says):
        export(*args)

    assert AuditEntry.objects.count() == before


def test_the_command_exits_non_zero_without_since():
    done = manage_py("audit_export", "--as", "admin")

    assert done.returncode != 0 and "--since" in done.stderr
