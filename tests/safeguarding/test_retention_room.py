"""Retention as the room shows it (issue 13): a message an open concern holds past retention
looks exactly like a purged one to everyone in the room, and the session's other words (status
notes, round prompts, plan notes) are encrypted at rest and go with retention too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import PlanItem, Round, SessionEvent
from tests.safeguarding import enter, live_room, post_message, purge_at, raise_concern

pytestmark = pytest.mark.django_db

CANARY = "CANARY-6f1b1c0e"


def room_view(world: Any, session_id: int, persona: str) -> dict[int, dict[str, Any]]:
    """The message events `persona` reads over REST, by message id, without the ids that
    differ between any two messages."""
    answer = world.client(persona).get(f"/api/v1/sessions/{session_id}/events/")
    assert answer.status_code == 200, answer.json()
    return {
        e["message_id"]: {
            k: v for k, v in e.items() if k not in {"seq", "message_id", "client_id", "sent_at"}
        }
        for e in answer.json()["results"]
        if e["type"] == "message"
    }


def raw(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_a_held_message_looks_exactly_like_a_purged_one_to_everyone_in_the_room(world):
    room = live_room(world)
    start = timezone.now()
    warning = {"category": "physical_violence", "note": "what happened"}
    held = post_message(room, "member2", "the words the concern is about", content_warning=warning)
    purged = post_message(room, "member2", "ordinary words", content_warning=warning)
    raise_concern(world, message_ids=[held.pk])

    purge_at(start + timedelta(days=31))

    for persona in ("member", "member2", "facilitator"):
        view = room_view(world, room.session.pk, persona)
        assert view[held.pk] == view[purged.pk], persona
        assert view[held.pk]["body"] is None and view[held.pk]["hidden"] is True
    replayed = {
        e["message_id"]: e
        for e in session_services.events_replay(session_id=room.session.pk, after_seq=0)
        if e["type"] == "message"
    }
    assert replayed[held.pk]["content_warning"] == replayed[purged.pk]["content_warning"]
    held.refresh_from_db()
    assert held.body == "the words the concern is about", "the concern's handlers still read it"
    export = world.client("member2").get("/api/v1/me/export/").json()
    exported = [m for m in export["messages"] if m["sent_at"]]
    assert all(m["body"] is None and m["deleted_by_retention"] for m in exported)


def test_status_notes_round_prompts_and_plan_notes_are_encrypted_and_go_with_retention(world):
    room = live_room(world)
    start = timezone.now()
    facilitator = world.users["facilitator"]
    host = enter(room, "facilitator")
    enter(room, "member")
    session_services.plan_replace(
        actor=facilitator,
        session=room.session,
        items=[{"title": "Check-in", "kind": "check_in", "minutes": 10, "notes": f"{CANARY} plan"}],
    )
    session_services.round_start(actor=facilitator, context=host, prompt=f"{CANARY} prompt")
    session_services.round_end(actor=facilitator, context=host)
    session_services.room_set_status(
        actor=facilitator, context=host, status="paused", note=f"{CANARY} note"
    )

    stored = (
        raw("SELECT text, payload FROM facilitation_sessionevent")
        + raw("SELECT prompt, '' FROM facilitation_round")
        + raw("SELECT notes, '' FROM facilitation_planitem")
    )
    assert CANARY not in str(stored)
    replay = session_services.events_replay(session_id=room.session.pk, after_seq=0)
    texts = {e["type"]: e.get("note") or e.get("prompt") for e in replay}
    assert texts["round.started"] == f"{CANARY} prompt"
    assert texts["session.status"] == f"{CANARY} note"

    room.session.ends_at = start + timedelta(hours=2)
    room.session.save(update_fields=["ends_at"])
    purge_at(start + timedelta(days=31))

    after = session_services.events_replay(session_id=room.session.pk, after_seq=0)
    assert {e["type"]: e.get("note") or e.get("prompt") for e in after}["session.status"] is None
    assert [e["prompt"] for e in after if e["type"] == "round.started"] == [None]
    assert set(Round.objects.values_list("prompt", flat=True)) == {""}
    assert set(PlanItem.objects.values_list("notes", flat=True)) == {""}
    assert SessionEvent.objects.exclude(text="").count() == 0
