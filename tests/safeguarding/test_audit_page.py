"""The audit page (issue 16, the lead's view): names instead of ids, local time, filters by
person, group, concern, session, action and dates, a CSV whose download is itself recorded;
the concern rule of the audit log holds; members' names only for those who may see the roster;
anyone but leads and admins gets 404; bad filters get an error summary."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from facilitation import services as session_services
from groups import services as group_services
from project.models import AuditEntry
from safeguarding import services as safeguarding_services
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

CONCERN_TEXT = "He keeps messaging me after the group, I feel unsafe."


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def a_concern(world: World, category: str = "my_wellbeing") -> int:
    """Rose raises a concern; one about the facilitation goes to the leads from the start."""
    concern = safeguarding_services.concern_raise(
        actor=world.users["member"],
        group_id=world.group_a.pk,
        category=category,
        body=CONCERN_TEXT,
    )
    return concern.pk


def rows_of(page) -> list:
    return page.context["rows"]


def test_an_admin_reads_names_not_ids_and_never_any_text(world):
    room = make_room(world=world)
    context, _state = session_services.room_enter(
        actor=world.users["member"], session_id=room.session.pk
    )
    session_services.checkin_set(
        actor=world.users["member"], context=context, moment="in", mood="low", note="a note"
    )
    a_concern(world)

    page = signed_in(world, "admin").get("/audit/")

    assert page.status_code == 200
    text = page.content.decode()
    saved = next(r for r in rows_of(page) if r.entry.action == "checkin.saved")
    assert saved.who == "Rose" and saved.group == "Group A"
    assert ("member id", "Rose") in saved.details
    assert ("session id", room.session.title) in saved.details
    staff = next(r for r in rows_of(page) if r.entry.actor_id == world.users["facilitator"].pk)
    assert staff.who == "fac-a"
    assert CONCERN_TEXT not in text and "a note" not in text
    assert "Times are in" in text


def test_a_safeguarding_lead_is_not_told_who_is_in_a_group(world):
    room = make_room(world=world)
    session_services.room_enter(actor=world.users["member"], session_id=room.session.pk)
    context, _state = session_services.room_enter(
        actor=world.users["member"], session_id=room.session.pk
    )
    session_services.checkin_set(
        actor=world.users["member"], context=context, moment="in", mood="okay"
    )

    page = signed_in(world, "safeguarding_lead").get("/audit/?action=checkin.saved")

    [row] = rows_of(page)
    assert row.who == "A member" and ("member id", "A member") in row.details
    assert "Rose" not in page.content.decode()


def test_filters_narrow_the_log_by_person_group_concern_session_action_and_dates(world):
    concern_id = a_concern(world, "facilitation")
    other = make_room(world=world)
    admin = signed_in(world, "admin")
    lead = signed_in(world, "safeguarding_lead")
    fac = world.users["facilitator"].pk

    by_person = rows_of(admin.get(f"/audit/?person={fac}"))
    by_group = rows_of(admin.get(f"/audit/?group={world.group_b.pk}"))
    by_concern = rows_of(lead.get(f"/audit/?concern={concern_id}"))
    by_session = rows_of(admin.get(f"/audit/?session={other.session.pk}"))
    by_action = rows_of(lead.get("/audit/?action=concern.raised"))
    tomorrow = rows_of(admin.get("/audit/?since=2999-01-01"))

    assert by_person and all(r.entry.actor_id == fac for r in by_person)
    assert by_group and all(r.entry.group_id == world.group_b.pk for r in by_group)
    assert by_concern and all(r.entry.target_id == str(concern_id) for r in by_concern)
    assert by_session and all(
        r.entry.target_id == str(other.session.pk) or r.entry.extra.get("session_id")
        for r in by_session
    )
    assert [r.entry.action for r in by_action] == ["concern.raised"]
    assert tomorrow == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("concern=twelve", "concern"),
        ("session=-1", "session"),
        ("person=999999", "person"),
        ("group=abc", "group"),
        ("action=made.up", "action"),
        ("since=yesterday", "since"),
        ("since=2026-12-03&until=2026-12-01", "until"),
    ],
)
def test_a_bad_filter_gets_an_error_summary_and_no_entries(world, query, field):
    page = signed_in(world, "admin").get(f"/audit/?{query}")

    assert page.status_code == 400
    assert field in page.context["errors"]
    text = page.content.decode()
    assert "There is a problem" in text and f'href="#audit-{field}"' in text
    assert page.context["page"] is None


def test_the_csv_has_names_and_local_times_defuses_formulas_and_its_download_is_recorded(world):
    a_concern(world)
    # A staff username cannot start with "=", but a group name can: the CSV must not run it.
    group_services.group_update(
        actor=world.users["facilitator"], group=world.group_a, name="=HYPERLINK(1)"
    )
    admin = signed_in(world, "admin")

    answer = admin.get("/audit/?format=csv")

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    table = list(csv.reader(io.StringIO(answer.content.decode())))
    assert table[0] == ["When", "Who", "Action", "About", "Group", "Details"]
    updated = next(r for r in table if r[2] == "group.updated")
    assert updated[1] == "fac-a" and updated[4] == "'=HYPERLINK(1)"
    assert any(r[1] == "Rose" for r in table)
    assert CONCERN_TEXT not in answer.content.decode()
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor == world.users["admin"] and exported.extra["count"] == len(table) - 1


def test_the_concern_rule_holds_on_the_page_and_in_the_csv(world):
    concern_id = a_concern(world)
    # One rule (`concern_entries_visible_to`): the page shows her exactly the entries about
    # the concern that the REST audit list shows her, whatever the policy decides.
    api = Client()
    api.force_login(world.users["safeguarding_lead"])
    over_rest = api.get("/api/v1/audit/?target_type=concern").json()["results"]
    page = rows_of(signed_in(world, "safeguarding_lead").get(f"/audit/?concern={concern_id}"))

    assert sorted(r.entry.pk for r in page) == sorted(
        e["id"] for e in over_rest if e["target_id"] == str(concern_id)
    )


@pytest.mark.parametrize("persona", ["member", "peer_mentor", "facilitator", "outsider"])
def test_anyone_but_leads_and_admins_gets_404(world, persona):
    browser = signed_in(world, persona)

    assert browser.get("/audit/").status_code == 404
    assert browser.get("/audit/?format=csv").status_code == 404
    assert not AuditEntry.objects.filter(action="audit.exported").exists()
    assert Client().get("/audit/").status_code == 302
