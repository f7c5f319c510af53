"""Safeguarding tests: concerns, who sees them, their alerts, the audit log, encryption at rest,
retention and a member's own data rights.

The helpers below make test data through the real services and the REST API, on the personas
of `tests.conftest` and the live room of `tests.facilitation.room`.
"""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

import time_machine
from django.core.management import call_command

from facilitation import services as session_services
from facilitation.models import Message
from facilitation.services import RoomContext
from groups.models import ApiToken
from project.models import AuditEntry
from safeguarding.models import Concern, ConcernReply, ConcernStatusChange
from tests.conftest import World
from tests.facilitation.room import Room, make_room

CONCERNS = "/api/v1/concerns/"
ON_POSTGRES = bool(os.environ.get("DATABASE_URL", "").strip())

BODY = "She keeps messaging me after the group and it frightens me."


def live_room(world: World) -> Room:
    """Group A of `world` with its agreement accepted by everyone and a live session."""
    return make_room(world=world)


def enter(room: Room, persona: str) -> RoomContext:
    context, _state = session_services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )
    return context


def post_message(room: Room, persona: str, body: str, *, content_warning: Any = None) -> Message:
    """`persona` says `body` in the room, through the same service the WebSocket uses."""
    user = room.world.users[persona]
    event, created = session_services.message_post(
        actor=user,
        context=enter(room, persona),
        body=body,
        content_warning=content_warning,
        client_id=str(uuid.uuid4()),
    )
    assert created
    return Message.objects.get(pk=event["message_id"])


def concern_input(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group_id": world.group_a.pk,
        "category": "about_member",
        "body": BODY,
        "urgency": "normal",
        "about_member_id": world.members["member2"].pk,
    }
    data.update(overrides)
    return data


def raise_concern(world: World, persona: str = "member", **overrides: Any) -> int:
    """Raise a concern over REST and return its id."""
    response = world.client(persona).post(
        CONCERNS, concern_input(world, **overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def move(world: World, persona: str, concern_id: int, status: str, note: str | None = None) -> Any:
    body: dict[str, Any] = {"status": status}
    if note is not None:
        body["note_to_reporter"] = note
    return world.client(persona).post(f"{CONCERNS}{concern_id}/status/", body, format="json")


def reply(world: World, persona: str, concern_id: int, body: str) -> Any:
    return world.client(persona).post(
        f"{CONCERNS}{concern_id}/replies/", {"body": body}, format="json"
    )


def detail(world: World, persona: str, concern_id: int) -> Any:
    return world.client(persona).get(f"{CONCERNS}{concern_id}/")


def listed(world: World, persona: str, query: str = "") -> set[int]:
    response = world.client(persona).get(f"{CONCERNS}{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def written() -> dict[str, int]:
    """How many rows the safeguarding writes have made so far."""
    return {
        "concerns": Concern.objects.count(),
        "status_changes": ConcernStatusChange.objects.count(),
        "replies": ConcernReply.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def purge_at(moment: Any) -> str:
    """`manage.py purge_expired` run at `moment` (days later, usually); its output.

    The job also deletes the tokens that have expired by then, as the world's would have. The
    test then goes on at today's time, as if everyone had signed in again: their tokens are put
    back as they were.
    """
    tokens = list(ApiToken.objects.all())
    out = io.StringIO()
    with time_machine.travel(moment, tick=False):
        call_command("purge_expired", stdout=out)
    ApiToken.objects.bulk_create(tokens, ignore_conflicts=True)
    return out.getvalue()
