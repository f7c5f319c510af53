"""Redis dies mid-session and comes back; Daphne is not restarted.

ARCHITECTURE.md rule 4: the channel layer is only a fast path. While Redis is down a message is
either stored (and acked) or refused with an error; once Redis is back, every member ends with
every stored message exactly once, in order, filled from the session log by the heartbeat or by
`resume` after a reconnect.
"""

from __future__ import annotations

import asyncio
import uuid

from tests.e2e.conftest import (
    E2E,
    Refused,
    RoomClient,
    all_caught_up,
    assert_everyone_has_the_log,
    close_all,
    db_messages,
    run,
)
from tests.facilitation.room import make_room

pytestmark = E2E


def members(room, *personas: str) -> list[RoomClient]:
    return [RoomClient(p, room.world.tokens[p], room.session.pk) for p in personas]


def test_after_redis_restarts_every_stored_message_reaches_everyone_once_in_order(
    daphne, redis_server
):
    room = make_room()
    a, b = daphne("A", "B", redis_url=redis_server.url)
    ports = [a.port, b.port]
    session_id = room.session.pk
    # (member, client_id, answer): an ack, an error, or None when her socket was closed.
    outage: list[tuple[str, str, dict | None]] = []
    reconnects_during_outage: list[str] = []

    async def scenario():
        everyone = members(room, "facilitator", "member", "peer_mentor", "member2")
        await asyncio.gather(*(c.connect(ports[i % 2]) for i, c in enumerate(everyone)))
        await asyncio.gather(*(c.settled() for c in everyone))
        before = [await c.post(f"{c.name} before", ports=ports) for c in everyone]
        await all_caught_up(everyone)

        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(0.5)

        async def try_once(member: RoomClient, body: str) -> None:
            client_id = str(uuid.uuid4())
            answer = None
            if member.connected:
                await member.say(body, client_id=client_id)
                answer = await member.reply_to(client_id, timeout=5)
            outage.append((member.name, client_id, answer))

        await asyncio.gather(*(try_once(c, f"{c.name} during") for c in everyone))
        # What entering the room does while Redis is down (bounded; recorded for the report).
        probe = members(room, "member")[0]
        try:
            await probe.connect(a.port, timeout=3)
            reconnects_during_outage.append("let in")
            await probe.drop()
        except Refused as refused:
            reconnects_during_outage.append(f"closed {refused.code}")
        except Exception as error:
            reconnects_during_outage.append(type(error).__name__)

        await asyncio.to_thread(redis_server.start)
        for member in everyone:
            if not member.connected:
                await member.reconnect(ports, within=15)
        # What was left unanswered is sent again with the same client_id (idempotent).
        resent = []
        for name, client_id, answer in outage:
            if answer is None:
                member = next(c for c in everyone if c.name == name)
                resent.append(await member.post(f"{name} during", ports=ports, client_id=client_id))
        after = [await c.post(f"{c.name} after", ports=ports) for c in everyone]
        await all_caught_up(everyone, timeout=15)
        await close_all(everyone)
        return everyone, before, resent, after

    everyone, before, resent, after = run(scenario(), timeout=75)

    print(
        "during the outage:",
        [(name, answer and answer.get("code", answer["type"])) for name, _, answer in outage],
        "closes:",
        {c.name: c.close_codes for c in everyone},
        "entering:",
        reconnects_during_outage,
    )
    for _, _, answer in outage:
        assert answer is None or answer["type"] in {"ack", "error"}, answer
    acked = before + resent + after + [x for _, _, x in outage if x and x["type"] == "ack"]
    assert all(answer["type"] == "ack" for answer in acked), acked
    assert_everyone_has_the_log(everyone, session_id)
    stored = [client_id for _, _, client_id in db_messages(session_id)]
    assert len(stored) == len(set(stored)) == len(acked)
    for _, client_id, answer in outage:
        if answer is not None and answer["type"] == "error":
            assert client_id not in stored
    for member in everyone:
        ids = member.message_ids()
        for answer in acked:
            assert ids.count(answer["message_id"]) == 1, member.name


def test_connections_stay_open_through_a_redis_outage_and_the_heartbeat_delivers(
    daphne, redis_server
):
    room = make_room()
    (a,) = daphne("A", redis_url=redis_server.url)

    async def scenario():
        rose, jade = members(room, "member", "member2")
        await asyncio.gather(rose.connect(a.port), jade.connect(a.port))
        await asyncio.gather(rose.settled(), jade.settled())
        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(1.5)
        assert rose.connected and jade.connected, (rose.close_codes, jade.close_codes)
        client_id = await rose.say("are you still there?")
        answer = await rose.reply_to(client_id)
        assert answer is not None and answer["type"] == "ack", answer
        # The broadcast was lost with Redis; the heartbeat fills it from the log.
        await jade.wait_seq(answer["seq"], timeout=4)
        await close_all([rose, jade])
        return answer

    run(scenario(), timeout=30)
