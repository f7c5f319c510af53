"""The unread-answer dot, live (issue 17): when someone who handles her concern answers it or
moves it, every room she has open hears `concern.answered` on her own account's group, with the
concern's id and nothing else; nobody else in the room hears it, and her own reply is no news
to her. Sockets go through the full ASGI application."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async

from project import realtime
from safeguarding import policies
from safeguarding.models import Concern
from tests.facilitation.room import Client, amake_room, join
from tests.safeguarding import BODY, move, raise_concern, reply

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "Thank you for telling us. Can we talk after the session?"


@pytest.fixture
async def opened() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


def answered(client: Client) -> list[dict]:
    return [e for e in client.received if e["type"] == "concern.answered"]


async def test_a_reply_from_a_handler_tells_her_rooms_and_nobody_else_with_no_text(opened):
    room = await amake_room()
    for persona in ("facilitator", "member", "member2"):
        opened.append((await join(room, persona))[0])
    fac, rose, jade = opened
    concern_id = await database_sync_to_async(raise_concern)(room.world)
    await fac.until("concern.raised")

    response = await database_sync_to_async(reply)(room.world, "facilitator", concern_id, REPLY)

    assert response.status_code == 201
    event = await rose.until("concern.answered")
    assert event == {"type": "concern.answered", "concern_id": concern_id, "unread": True}
    await fac.until("concern.updated")
    await jade.drain()
    assert answered(fac) == [] and answered(jade) == []
    assert REPLY not in json.dumps(rose.received) and BODY not in json.dumps(rose.received)


async def test_a_status_change_is_an_answer_too_but_her_own_reply_is_not(opened):
    room = await amake_room()
    for persona in ("facilitator", "member"):
        opened.append((await join(room, persona))[0])
    fac, rose = opened
    concern_id = await database_sync_to_async(raise_concern)(room.world)
    await fac.until("concern.raised")

    await database_sync_to_async(reply)(room.world, "member", concern_id, "One more thing.")
    await rose.until("concern.updated")
    await rose.drain()
    mine = answered(rose)
    await database_sync_to_async(move)(room.world, "facilitator", concern_id, "acknowledged")

    assert mine == []
    assert (await rose.until("concern.answered"))["concern_id"] == concern_id


def test_only_the_account_that_raised_it_is_named_as_recipient(world):
    concern_id = raise_concern(world)
    concern = Concern.objects.get(pk=concern_id)

    groups = policies.concern_reporter_groups(concern)

    assert groups == [realtime.user_group(world.users["member"].pk)]
