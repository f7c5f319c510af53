"""One real Daphne process: frame limits, over-long bodies and the heartbeat, over a real socket."""

from __future__ import annotations

import json
import uuid

from facilitation import services as session_services
from tests.e2e.conftest import (
    DAPHNE_MAX_FRAME,
    E2E,
    RoomClient,
    adb,
    close_all,
    db_last_seq,
    db_messages,
    run,
)
from tests.facilitation.room import make_room

pytestmark = E2E


def message_frame(body: str, client_id: str | None = None) -> str:
    return json.dumps(
        {
            "type": "message.send",
            "client_id": client_id or str(uuid.uuid4()),
            "body": body,
            "content_warning": None,
        }
    )


def test_a_frame_over_daphnes_limit_is_refused_and_nothing_is_stored(daphne):
    room = make_room()
    (a,) = daphne("A")
    frame = message_frame("x" * (DAPHNE_MAX_FRAME + 4000))
    assert len(frame.encode()) > DAPHNE_MAX_FRAME

    async def scenario():
        rose = RoomClient("member", room.world.tokens["member"], room.session.pk)
        await rose.connect(a.port)
        await rose.settled()
        await rose.send_raw(frame)
        await rose.wait_until(
            lambda: not rose.connected or bool(rose.errors), 5, "a close or an error"
        )
        outcome = rose.close_codes[-1] if not rose.connected else rose.errors[-1]["code"]
        # She can come back (or carry on) and post normally.
        if not rose.connected:
            await rose.connect(a.port)
        answer = await rose.post("a normal message", ports=[a.port])
        await close_all([rose])
        return outcome, answer

    outcome, answer = run(scenario())

    # Daphne's WebSocket library fails an over-size frame by dropping the TCP connection
    # (autobahn's failByDrop), so the client sees 1006 rather than a 1009 close frame.
    assert outcome in {1009, 1006, "too_long"}, outcome
    assert answer["type"] == "ack"
    assert [client_id for _, _, client_id in db_messages(room.session.pk)] == [answer["client_id"]]


def test_a_20000_character_frame_gets_too_long_and_the_connection_stays_open(daphne):
    room = make_room()
    (a,) = daphne("A")

    async def scenario():
        rose = RoomClient("member", room.world.tokens["member"], room.session.pk)
        await rose.connect(a.port)
        await rose.settled()
        frame = message_frame("y" * 20_000)
        await rose.send_raw(frame)
        await rose.wait_until(lambda: bool(rose.errors), 5, "an error")
        over_frame = rose.errors[-1]
        # Under the frame limit but over the 4000-character body limit: refused by name.
        long_body = await rose.post("z" * 5000, ports=[a.port])
        answer = await rose.post("short and sweet", ports=[a.port])
        still_open = rose.connected
        await close_all([rose])
        return len(frame), over_frame, long_body, answer, still_open, rose.close_codes

    size, over_frame, long_body, answer, still_open, closes = run(scenario())

    assert size > 20_000
    assert (over_frame["type"], over_frame["code"]) == ("error", "too_long"), over_frame
    assert (long_body["type"], long_body["code"]) == ("error", "too_long"), long_body
    assert answer["type"] == "ack"
    assert still_open and closes == [1000]
    assert [client_id for _, _, client_id in db_messages(room.session.pk)] == [answer["client_id"]]


def test_the_heartbeat_arrives_with_the_newest_seq(daphne):
    room = make_room()
    (a,) = daphne("A")

    async def scenario():
        rose = RoomClient("member", room.world.tokens["member"], room.session.pk)
        await rose.connect(a.port)
        await rose.settled()
        await rose.wait_until(lambda: bool(rose.heartbeats), 4, "heartbeat")
        newest = await db_last_seq(room.session.pk)
        await close_all([rose])
        return rose.heartbeats[0], newest, rose.last_seq

    heartbeat, newest, applied = run(scenario())

    assert heartbeat == {"type": "heartbeat", "last_seq": newest}
    assert applied == newest


def test_an_event_whose_broadcast_never_arrives_is_delivered_by_the_heartbeat(daphne):
    room = make_room()
    (a,) = daphne("A")
    facilitator = room.world.users["facilitator"]

    async def scenario():
        rose = RoomClient("member", room.world.tokens["member"], room.session.pk)
        await rose.connect(a.port)
        await rose.settled()
        before = rose.last_seq
        # Written from this process, whose channel layer has another prefix than the
        # server's: the broadcast is lost, only the session log has it.
        await adb(
            lambda: session_services.session_set_status(
                actor=facilitator, session=room.session, status="paused", note="Breathe"
            )
        )
        event = await rose.wait_event("session.status", timeout=4, status="paused")
        await close_all([rose])
        return before, event, rose.gaps_seen

    before, event, gaps = run(scenario())

    assert event["seq"] == before + 1
    assert event["note"] == "Breathe"
    assert gaps == 0
