"""Security catalogue row 8: a flood is refused, logged without its words and, if it goes on,
closed with 4429; meanwhile the others lose nothing.

Rose sends 43 messages as fast as the socket takes them; the limit lets 8 through and refuses
the rest with `rate_limited`. Meanwhile Mari sends 6 at her own pace: every one is acked, and
everyone in the room (Rose included) receives each of them once, in the log's order.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels.db import database_sync_to_async

from facilitation.models import Message
from facilitation.services import FLOOD_CLOSE_AFTER
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)

# Refused often, but not quite often enough to be closed (that is the test below).
FLOOD = 8 + FLOOD_CLOSE_AFTER - 5
HERS = 6


async def test_a_flood_costs_the_others_nothing() -> None:
    room = await amake_room()
    rose, _ = await join(room, "member")
    mari, _ = await join(room, "member2")
    host, _ = await join(room, "facilitator")

    async def flood() -> None:
        for index in range(FLOOD):
            await rose.say(f"flood {index}")

    async def talk() -> list[str]:
        sent = []
        for index in range(HERS):
            sent.append(await mari.say(f"mari {index}"))
            await mari.until("ack", timeout=5, client_id=sent[-1])
            await asyncio.sleep(0.05)
        return sent

    _flooded, mari_ids = await asyncio.gather(flood(), talk())
    for client in (rose, mari, host):
        await client.drain(1.0)

    refused = [e for e in rose.received if e["type"] == "error"]
    assert {e["code"] for e in refused} == {"rate_limited"}
    assert len(refused) == FLOOD - 8
    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(session=room.session)
            .order_by("id")
            .values_list("client_id", flat=True)
        )
    )()
    assert len(stored) == 8 + HERS
    assert [str(c) for c in stored if str(c) in mari_ids] == mari_ids
    for client in (rose, mari, host):
        got = [e["client_id"] for e in client.received if e["type"] == "message"]
        assert [c for c in got if c in mari_ids] == mari_ids, "each of hers, once, in order"
        seqs = [e["seq"] for e in client.durable()]
        assert seqs == sorted(set(seqs)), "no gap filled twice, no reordering"
    for client in (rose, mari, host):
        await client.close()


async def test_a_connection_that_keeps_flooding_is_closed_and_logged_without_its_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = await amake_room()
    rose, _ = await join(room, "member")
    mari, _ = await join(room, "member2")
    caplog.set_level(logging.WARNING, logger="facilitation.security")

    for index in range(8 + FLOOD_CLOSE_AFTER + 5):
        try:
            await rose.say(f"secret words {index}")
        except Exception:  # the socket is gone; the rest of the flood goes nowhere
            break
    assert await rose.closed_with(timeout=5) == 4429
    refused = [e for e in rose.received if e["type"] == "error"]
    assert len(refused) == FLOOD_CLOSE_AFTER
    logged = [r.getMessage() for r in caplog.records if r.name == "facilitation.security"]
    assert logged == [
        f"room: rate limited kind=message.send member={room.member_id('member')} "
        f"session={room.session.pk}",
        f"room: closed for flooding member={room.member_id('member')} "
        f"session={room.session.pk} refusals={FLOOD_CLOSE_AFTER} in a minute",
    ]
    assert "secret" not in caplog.text
    await mari.say("still talking")
    assert (await mari.until("ack"))["seq"] > 0
    await mari.close()


async def test_meeting_the_limit_a_few_times_keeps_the_connection() -> None:
    room = await amake_room()
    rose, _ = await join(room, "member")
    for index in range(8 + 5):
        await rose.say(f"fast {index}")
    await rose.drain(1.0)
    assert sum(e["type"] == "error" for e in rose.received) == 5
    await rose.say("one more try")
    assert (await rose.until("error"))["code"] == "rate_limited"
    await rose.close()
