"""Staff-only notes on a concern (issue 16): in a box that says "Only staff see this", encrypted,
audited without their text, emptied by retention once the concern has been closed long enough;
the woman who raised it never sees them (page, REST, her export), nor does a peer mentor."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from project.exceptions import NotFound, ValidationFailed
from project.models import AuditEntry
from safeguarding import services
from safeguarding.models import ConcernNote
from tests.conftest import World
from tests.safeguarding import CONCERNS, move, raise_concern

pytestmark = pytest.mark.django_db

NOTE = "Rang the outreach team; she is staying with her sister tonight."


def signed_in(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def shared_concern(world: World) -> int:
    return raise_concern(
        world, category="my_wellbeing", about_member_id=None, share_with_peer_mentors=True
    )


def test_a_handler_adds_a_note_from_the_page_into_the_box_only_staff_see(world: World) -> None:
    concern_id = shared_concern(world)
    client = signed_in(world, "facilitator")
    response = client.post(f"/concerns/{concern_id}/", {"action": "note", "body": NOTE})
    assert response.status_code == 302
    text = client.get(f"/concerns/{concern_id}/").content.decode()
    box = text[text.index('id="staff-notes"') :]
    box = box[: box.index("</section>")]
    assert "Only staff see this" in box
    assert NOTE in box
    entry = AuditEntry.objects.get(action="concern.noted")
    assert entry.actor_id == world.users["facilitator"].pk
    assert entry.target_id == str(concern_id)
    assert NOTE not in json.dumps(entry.extra)


def test_the_note_is_encrypted_at_rest(world: World) -> None:
    concern_id = shared_concern(world)
    note = services.concern_note_add(
        actor=world.users["facilitator"], concern_id=concern_id, body=NOTE
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM safeguarding_concernnote WHERE id = %s", [note.pk])
        (stored,) = cursor.fetchone()
    assert "outreach" not in stored


def test_she_who_raised_it_never_sees_a_note_on_her_page_over_rest_or_in_her_export(
    world: World,
) -> None:
    concern_id = shared_concern(world)
    services.concern_note_add(actor=world.users["facilitator"], concern_id=concern_id, body=NOTE)
    page = signed_in(world, "member").get(f"/concerns/{concern_id}/").content.decode()
    assert NOTE not in page
    assert "Only staff see this" not in page
    member = world.client("member")
    assert NOTE not in member.get(f"{CONCERNS}{concern_id}/").content.decode()
    assert member.get(f"{CONCERNS}{concern_id}/notes/").status_code == 404
    assert NOTE not in member.get("/api/v1/me/export/").content.decode()
    assert NOTE not in member.get(CONCERNS).content.decode()


def test_a_peer_mentor_she_shared_with_gets_404_for_the_notes_and_sees_no_box(
    world: World,
) -> None:
    concern_id = shared_concern(world)
    services.concern_note_add(actor=world.users["facilitator"], concern_id=concern_id, body=NOTE)
    mentor = world.client("peer_mentor")
    assert mentor.get(f"{CONCERNS}{concern_id}/").status_code == 200
    assert mentor.get(f"{CONCERNS}{concern_id}/notes/").status_code == 404
    response = mentor.post(f"{CONCERNS}{concern_id}/notes/", {"body": "x"}, format="json")
    assert response.status_code == 404
    page = signed_in(world, "peer_mentor").get(f"/concerns/{concern_id}/").content.decode()
    assert NOTE not in page
    assert "Only staff see this" not in page
    with pytest.raises(NotFound):
        services.concern_note_add(actor=world.users["peer_mentor"], concern_id=concern_id, body="x")


def test_the_handlers_read_the_notes_over_rest(world: World) -> None:
    concern_id = shared_concern(world)
    made = world.client("facilitator").post(
        f"{CONCERNS}{concern_id}/notes/", {"body": NOTE}, format="json"
    )
    assert made.status_code == 201
    notes = world.client("facilitator").get(f"{CONCERNS}{concern_id}/notes/").json()
    assert [(n["body"], n["mine"]) for n in notes] == [(NOTE, True)]


def test_an_empty_note_is_refused_on_the_page_with_an_error_summary_and_nothing_written(
    world: World,
) -> None:
    concern_id = shared_concern(world)
    client = signed_in(world, "facilitator")
    response = client.post(f"/concerns/{concern_id}/", {"action": "note", "body": "   "})
    assert response.status_code == 400
    text = response.content.decode()
    assert "There is a problem" in text
    assert 'href="#staff-note"' in text
    assert "Error: Concern" in text[text.index("<title>") : text.index("</title>")]
    assert ConcernNote.objects.count() == 0
    with pytest.raises(ValidationFailed):
        services.concern_note_add(actor=world.users["facilitator"], concern_id=concern_id, body="")


def test_the_reply_says_whom_it_goes_to_on_the_page_and_never_in_the_title(world: World) -> None:
    concern_id = shared_concern(world)
    text = signed_in(world, "facilitator").get(f"/concerns/{concern_id}/").content.decode()
    assert "Reply to Rose (she will see it)" in text
    title = text[text.index("<title>") : text.index("</title>")]
    assert "Rose" not in title
    mine = signed_in(world, "member").get(f"/concerns/{concern_id}/").content.decode()
    assert "Reply to Rose" not in mine


def test_retention_empties_the_notes_once_the_concern_has_been_closed_long_enough(
    world: World,
) -> None:
    concern_id = shared_concern(world)
    services.concern_note_add(actor=world.users["facilitator"], concern_id=concern_id, body=NOTE)
    services.purge_expired(now=timezone.now() + timedelta(days=400))
    assert ConcernNote.objects.get().body == NOTE  # an open concern keeps its notes
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", concern_id, step).status_code == 200
    services.purge_expired(now=timezone.now() + timedelta(days=5))
    assert ConcernNote.objects.get().body == NOTE
    services.purge_expired(now=timezone.now() + timedelta(days=400))
    assert ConcernNote.objects.get().body == ""
