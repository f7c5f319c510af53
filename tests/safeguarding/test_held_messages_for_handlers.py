"""Only a concern's handlers read the messages it refers to, on the concern (issue 13): after
retention the held text is theirs alone; in the room it is shown exactly like a purged message,
the woman who raised the concern gets her concern without it, and the member it is about does
not see the concern at all. (The room's side is tests/safeguarding/test_retention_room.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import World
from tests.safeguarding import (
    CONCERNS,
    detail,
    live_room,
    move,
    post_message,
    purge_at,
    raise_concern,
)

pytestmark = pytest.mark.django_db

HELD = "the words the concern is about"
WARNING = {"category": "physical_violence", "note": "what happened"}


@dataclass(frozen=True)
class Held:
    concern_id: int
    held: int  # the message the concern points to
    ordinary: int  # a message said beside it, purged by retention
    session_id: int


def held_after_retention(world: World, **concern: Any) -> Held:
    """member2 says something, member raises a concern pointing to it, retention passes."""
    room = live_room(world)
    start = timezone.now()
    held = post_message(room, "member2", HELD, content_warning=WARNING)
    ordinary = post_message(room, "member2", "ordinary words", content_warning=WARNING)
    concern_id = raise_concern(world, message_ids=[held.pk], **concern)
    purge_at(start + timedelta(days=31))
    return Held(concern_id, held.pk, ordinary.pk, room.session.pk)


def room_messages(world: World, persona: str, session_id: int) -> dict[int, dict[str, Any]]:
    """The message events `persona` reads over REST, by message id, without what differs
    between any two messages."""
    answer = world.client(persona).get(f"/api/v1/sessions/{session_id}/events/")
    assert answer.status_code == 200, answer.json()
    differ = {"seq", "message_id", "client_id", "sent_at"}
    return {
        e["message_id"]: {k: v for k, v in e.items() if k not in differ}
        for e in answer.json()["results"]
        if e["type"] == "message"
    }


@pytest.mark.parametrize("persona", ["facilitator", "peer_mentor"])
def test_the_handlers_read_the_held_text_on_the_concern_after_retention(world, persona):
    case = held_after_retention(world, share_with_peer_mentors=True)
    answer = detail(world, persona, case.concern_id)
    assert answer.status_code == 200
    assert answer.json()["my_role"] in {"handler", "peer_handler"}
    [message] = answer.json()["messages"]
    sent_at = message.pop("sent_at")
    assert sent_at.endswith("Z")
    assert message == {
        "message_id": case.held,
        "author": {"member_id": world.members["member2"].pk, "display_name": "Jade"},
        "body": HELD,
        "content_warning": WARNING,
    }


def test_the_leads_read_it_too_once_the_concern_is_theirs(world):
    case = held_after_retention(world)
    assert detail(world, "safeguarding_lead", case.concern_id).status_code == 404
    for step in ("acknowledged", "escalated"):
        assert move(world, "facilitator", case.concern_id, step).status_code == 200
    answer = detail(world, "safeguarding_lead", case.concern_id).json()
    assert [(m["message_id"], m["body"]) for m in answer["messages"]] == [(case.held, HELD)]
    # Moving it answers the concern as its handler reads it, the messages included.
    moved = move(world, "safeguarding_lead", case.concern_id, "closed").json()
    assert [m["body"] for m in moved["messages"]] == [HELD]


def test_the_woman_who_raised_it_and_the_member_it_is_about_do_not_get_the_held_text(world):
    case = held_after_retention(world)
    mine = detail(world, "member", case.concern_id)
    assert mine.status_code == 200
    assert mine.json()["my_role"] == "reporter"
    assert "messages" not in mine.json()
    assert mine.json()["message_ids"] == [case.held]
    assert HELD not in mine.content.decode()
    assert detail(world, "member2", case.concern_id).status_code == 404
    for persona in ("member", "member2"):
        listed = world.client(persona).get(CONCERNS)
        assert HELD not in listed.content.decode()


def test_the_room_shows_the_held_message_exactly_like_a_purged_one(world):
    case = held_after_retention(world)
    for persona in ("member", "member2", "facilitator"):
        room = room_messages(world, persona, case.session_id)
        assert room[case.held] == room[case.ordinary], persona
        assert room[case.held]["body"] is None
    answer = detail(world, "facilitator", case.concern_id).json()
    assert [m["body"] for m in answer["messages"]] == [HELD]


def test_once_the_concern_is_closed_retention_takes_the_text_and_the_handlers_see_it_gone(world):
    case = held_after_retention(world)
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", case.concern_id, step).status_code == 200
    purge_at(timezone.now() + timedelta(days=32))
    [message] = detail(world, "facilitator", case.concern_id).json()["messages"]
    assert message["message_id"] == case.held
    assert message["body"] is None
    assert message["content_warning"] == {"category": "physical_violence", "note": None}


def page_of(world: World, persona: str, concern_id: int) -> str:
    client = Client()
    client.force_login(world.users[persona])
    response = client.get(f"/concerns/{concern_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_concern_page_shows_the_held_text_to_its_handlers_only(world):
    case = held_after_retention(world)
    handler = page_of(world, "facilitator", case.concern_id)
    assert "Messages from the session she pointed to" in handler
    assert HELD in handler
    assert "Jade" in handler
    assert "Physical violence" in handler
    assert "Kept for this concern" in handler
    reporter = page_of(world, "member", case.concern_id)
    assert "Messages from the session she pointed to" not in reporter
    assert HELD not in reporter
    client = Client()
    client.force_login(world.users["member2"])
    assert client.get(f"/concerns/{case.concern_id}/").status_code == 404
