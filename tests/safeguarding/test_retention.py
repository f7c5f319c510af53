"""Retention is real (ARCHITECTURE.md rule 7): `purge_expired` removes message text past each
group's `retention_days`, keeps what an open concern holds, and is idempotent."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import Message
from groups import services as group_services
from project.models import AuditEntry
from tests.conftest import World
from tests.facilitation.room import Room
from tests.safeguarding import (
    enter,
    live_room,
    move,
    post_message,
    purge_at,
    raise_concern,
)

pytestmark = pytest.mark.django_db


def purge() -> str:
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    return out.getvalue()


def set_retention(world: World, group: Any, days: int, persona: str = "facilitator") -> None:
    response = world.client(persona).patch(
        f"/api/v1/groups/{group.pk}/", {"retention_days": days}, format="json"
    )
    assert response.status_code == 200, response.json()


def replayed_bodies(session_id: int) -> dict[int, str | None]:
    return {
        e["message_id"]: e["body"]
        for e in session_services.events_replay(session_id=session_id, after_seq=0)
        if e["type"] == "message"
    }


def raw_messages() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, body, cw_note, hide_reason, purged_at, author_id "
            "FROM facilitation_message ORDER BY id"
        )
        return cursor.fetchall()


def test_messages_past_retention_lose_their_text_and_newer_ones_keep_it(world):
    room = live_room(world)
    start = timezone.now()
    old = post_message(
        room,
        "member",
        "an old message",
        content_warning={"category": "physical_violence", "note": "an old note"},
    )
    with time_machine.travel(start + timedelta(days=25)):
        new = post_message(room, "member2", "a newer message")
    output = purge_at(start + timedelta(days=31))
    assert "Purged 1 messages" in output
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.body == "" and old.cw_note == ""
    assert old.purged_at == start + timedelta(days=31)
    assert new.body == "a newer message" and new.purged_at is None
    assert replayed_bodies(room.session.pk) == {old.pk: None, new.pk: "a newer message"}
    [entry] = AuditEntry.objects.filter(action="retention.purged")
    assert entry.extra == {"messages": 1, "held": 0}


def test_the_events_api_no_longer_shows_purged_text(world):
    room = live_room(world)
    message = post_message(room, "member", "gone after thirty days")
    purge_at(timezone.now() + timedelta(days=31))
    events = world.client("member2").get(f"/api/v1/sessions/{room.session.pk}/events/")
    assert events.status_code == 200
    assert b"gone after thirty days" not in events.content
    rows = events.json()["results"]
    [event] = [e for e in rows if e["type"] == "message" and e["message_id"] == message.pk]
    assert event["body"] is None


def test_nothing_is_purged_before_the_retention_window_ends(world):
    room = live_room(world)
    message = post_message(room, "member", "still within the month")
    assert "Purged 0 messages" in purge_at(timezone.now() + timedelta(days=29, hours=23))
    message.refresh_from_db()
    assert message.body == "still within the month" and message.purged_at is None
    assert not AuditEntry.objects.filter(action="retention.purged").exists()


def test_a_message_an_open_concern_refers_to_is_kept_until_the_concern_is_closed(world):
    room = live_room(world)
    start = timezone.now()
    held = post_message(room, "member2", "the message the concern is about")
    other = post_message(room, "member2", "an ordinary message")
    concern_id = raise_concern(world, message_ids=[held.pk])
    output = purge_at(start + timedelta(days=31))
    assert "Purged 1 messages; 1 kept" in output
    held.refresh_from_db()
    other.refresh_from_db()
    assert held.body == "the message the concern is about" and held.purged_at is None
    assert other.body == "" and other.purged_at is not None
    for step in ("acknowledged", "action_taken"):
        assert move(world, "facilitator", concern_id, step).status_code == 200
    purge_at(start + timedelta(days=32))
    held.refresh_from_db()
    assert held.purged_at is None, "an open concern (action taken, not closed) still holds it"
    assert move(world, "facilitator", concern_id, "closed").status_code == 200
    assert "Purged 1 messages; 0 kept" in purge_at(start + timedelta(days=33))
    held.refresh_from_db()
    assert held.body == "" and held.purged_at == start + timedelta(days=33)


def test_a_message_is_kept_while_any_open_concern_refers_to_it_even_if_another_is_closed(world):
    room = live_room(world)
    start = timezone.now()
    held = post_message(room, "member2", "a message two concerns refer to")
    closed_id = raise_concern(world, message_ids=[held.pk])
    raise_concern(world, message_ids=[held.pk], body="A second, still open concern.")
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", closed_id, step).status_code == 200
    purge_at(start + timedelta(days=31))
    held.refresh_from_db()
    assert held.body == "a message two concerns refer to"
    assert held.purged_at is None


def test_running_the_purge_twice_changes_nothing_the_second_time(world):
    room = live_room(world)
    start = timezone.now()
    post_message(room, "member", "first old message")
    post_message(room, "member2", "second old message")
    held = post_message(room, "member2", "a message an open concern holds")
    raise_concern(world, message_ids=[held.pk])
    first = purge_at(start + timedelta(days=31))
    assert "Purged 2 messages; 1 kept" in first
    state = raw_messages()
    audit = AuditEntry.objects.count()
    second = purge_at(start + timedelta(days=31, hours=1))
    assert "Purged 0 messages" in second
    assert raw_messages() == state
    assert AuditEntry.objects.count() == audit


def test_a_group_keeping_one_day_purges_sooner_than_one_keeping_thirty(world):
    room_a = live_room(world)
    set_retention(world, world.group_a, 1)
    facilitator_b = world.users["other_facilitator"]
    group_services.agreement_publish(actor=facilitator_b, group=world.group_b, points=["Be kind"])
    group_services.agreement_accept(actor=world.users["outsider"], group=world.group_b, version=1)
    room_b = make_room_in_b(world)
    start = timezone.now()
    in_a = post_message(room_a, "member", "said in the one-day group")
    in_b = post_message(room_b, "outsider", "said in the thirty-day group")
    purge_at(start + timedelta(days=2))
    in_a.refresh_from_db()
    in_b.refresh_from_db()
    assert in_a.body == "" and in_a.purged_at is not None
    assert in_b.body == "said in the thirty-day group" and in_b.purged_at is None
    purge_at(start + timedelta(days=31))
    in_b.refresh_from_db()
    assert in_b.body == "" and in_b.purged_at is not None


def make_room_in_b(world: World) -> Room:
    """A live session in group B (make_room only builds group A)."""
    facilitator = world.users["other_facilitator"]
    now = timezone.now()
    session = session_services.session_create(
        actor=facilitator,
        group=world.group_b,
        title="B circle",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        kind="drop_in",
    )
    for step in ("open", "live"):
        session = session_services.session_set_status(
            actor=facilitator, session=session, status=step
        )
    return Room(world=world, session=session)


def test_a_hidden_message_past_retention_loses_its_hide_reason_too(world):
    room = live_room(world)
    message = post_message(room, "member2", "a message a host hid")
    session_services.message_hide(
        actor=world.users["facilitator"],
        context=enter(room, "facilitator"),
        message_id=message.pk,
        reason="it named someone",
    )
    purge_at(timezone.now() + timedelta(days=31))
    message = Message.objects.get(pk=message.pk)
    assert message.hide_reason == "" and message.body == ""
    assert message.hidden_at is not None


def test_a_warning_note_a_host_added_is_gone_from_the_replay_after_retention(world):
    room = live_room(world)
    message = post_message(room, "member2", "a message a host put a warning on")
    session_services.message_set_warning(
        actor=world.users["facilitator"],
        context=enter(room, "facilitator"),
        message_id=message.pk,
        content_warning={"category": "physical_violence", "note": "names the hospital"},
    )
    purge_at(timezone.now() + timedelta(days=31))
    message.refresh_from_db()
    assert message.cw_note == "" and message.purged_at is not None
    replay = session_services.events_replay(session_id=room.session.pk, after_seq=0)
    assert "names the hospital" not in str(replay)


def test_a_dry_run_counts_what_would_go_and_changes_nothing(world):
    room = live_room(world)
    start = timezone.now()
    message = post_message(room, "member", "an old message")
    raw_before = raw_messages()
    out = io.StringIO()

    with time_machine.travel(start + timedelta(days=31), tick=False):
        call_command("purge_expired", "--dry-run", stdout=out)

    assert "Would purge 1 messages" in out.getvalue()
    assert raw_messages() == raw_before
    message.refresh_from_db()
    assert message.body == "an old message" and message.purged_at is None
    assert not AuditEntry.objects.filter(action="retention.purged").exists()
    assert "Purged 1 messages" in purge_at(start + timedelta(days=31))
