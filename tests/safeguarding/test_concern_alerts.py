"""Concern alerts in the live room: only the concern's handlers hear of it, and only its id and
urgency (ARCHITECTURE.md rule 5). Sockets go through the full ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async

from tests.facilitation.room import Client, Room, amake_room, join
from tests.safeguarding import BODY, move, raise_concern

pytestmark = pytest.mark.django_db(transaction=True)


async def drain(*clients: Client) -> None:
    """Read whatever the room has sent so far (presence of later arrivals)."""

    async def one(client: Client) -> None:
        while not await client.nothing(0.2):
            await client.next()

    await asyncio.gather(*(one(client) for client in clients))


async def hear_nothing(*clients: Client) -> bool:
    """Nothing at all reaches any of `clients` (receive_nothing on each, side by side)."""
    return all(await asyncio.gather(*(client.nothing(0.3) for client in clients)))


def concern_events(client: Client) -> list[dict]:
    return [e for e in client.received if e["type"].startswith("concern.")]


@pytest.fixture
async def opened() -> AsyncIterator[list[Client]]:
    """Sockets a test opens; all closed afterwards, even when the test fails."""
    clients: list[Client] = []
    yield clients
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


async def everyone_in(opened: list[Client]) -> tuple[Room, Client, Client, Client, Client]:
    """A live room with the facilitator, the peer mentor (co-host), Rose and Jade in it."""
    room = await amake_room()
    for persona in ("facilitator", "peer_mentor", "member", "member2"):
        client, _ = await join(room, persona)
        opened.append(client)
    await drain(*opened)
    fac, mentor, rose, jade = opened
    return room, fac, mentor, rose, jade


async def test_the_facilitator_is_alerted_with_the_id_and_urgency_and_nobody_else_hears_of_it(
    opened,
):
    room, fac, mentor, rose, jade = await everyone_in(opened)
    concern_id = await database_sync_to_async(raise_concern)(
        room.world, urgency="urgent", share_with_peer_mentors=False
    )
    alert = await fac.until("concern.raised")
    assert alert == {"type": "concern.raised", "concern_id": concern_id, "urgency": "urgent"}
    assert BODY not in json.dumps(fac.received)
    assert await hear_nothing(mentor, rose, jade)
    assert concern_events(mentor) == []
    assert concern_events(jade) == []
    assert concern_events(rose) == []


async def test_a_peer_mentor_she_chose_to_share_with_is_alerted_too(opened):
    room, fac, mentor, rose, jade = await everyone_in(opened)
    concern_id = await database_sync_to_async(raise_concern)(
        room.world, urgency="low", share_with_peer_mentors=True
    )
    expected = {"type": "concern.raised", "concern_id": concern_id, "urgency": "low"}
    assert await fac.until("concern.raised") == expected
    assert await mentor.until("concern.raised") == expected
    assert await hear_nothing(rose, jade)
    assert concern_events(rose) == [] and concern_events(jade) == []


async def test_a_concern_about_a_peer_mentor_never_reaches_her_even_when_shared(opened):
    room, fac, mentor, rose, jade = await everyone_in(opened)
    concern_id = await database_sync_to_async(raise_concern)(
        room.world,
        about_member_id=room.member_id("peer_mentor"),
        share_with_peer_mentors=True,
    )
    assert (await fac.until("concern.raised"))["concern_id"] == concern_id
    assert await hear_nothing(mentor, rose, jade)
    assert concern_events(mentor) == [] and concern_events(jade) == []


async def test_a_concern_about_how_the_group_is_run_does_not_alert_its_facilitator(opened):
    room, fac, mentor, rose, jade = await everyone_in(opened)
    await database_sync_to_async(raise_concern)(
        room.world, category="facilitation", about_member_id=None, share_with_peer_mentors=True
    )
    assert await hear_nothing(fac, mentor, rose, jade)
    for client in (fac, mentor, rose, jade):
        assert concern_events(client) == []


async def test_a_status_change_tells_the_reporter_that_it_changed_and_never_the_note(opened):
    room, fac, mentor, rose, jade = await everyone_in(opened)
    concern_id = await database_sync_to_async(raise_concern)(room.world)
    await fac.until("concern.raised")
    response = await database_sync_to_async(move)(
        room.world, "facilitator", concern_id, "acknowledged", "We are looking into it."
    )
    assert response.status_code == 200
    update = await rose.until("concern.updated")
    assert update == {"type": "concern.updated", "concern_id": concern_id, "status": "acknowledged"}
    assert (await fac.until("concern.updated"))["concern_id"] == concern_id
    assert "We are looking into it." not in json.dumps(rose.received + fac.received)
    assert await hear_nothing(mentor, jade)
    assert concern_events(mentor) == [] and concern_events(jade) == []
