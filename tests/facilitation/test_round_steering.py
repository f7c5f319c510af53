"""Rounds hosts can steer (issue 14): skip the speaker or move on to the next; whoever is not
in the room or has stepped out when her turn comes (or while it is hers) is skipped; every
turn's outcome is shown to whoever comes in later."""

import pytest
from channels.db import database_sync_to_async

from facilitation.models import Round
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


async def start_round(room, fac):
    await fac.send(type="round.start", prompt="One word for how you feel")
    return await fac.until("round.started")


async def test_a_host_moves_on_to_the_next_speaker_and_skips_one_and_newcomers_see_outcomes():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    mentor_id, rose_id, jade_id = (room.member_id(p) for p in ("peer_mentor", "member", "member2"))
    started = await start_round(room, fac)
    assert started["order"] == [mentor_id, rose_id, jade_id] and started["outcomes"] == {}

    await fac.send(type="round.next")
    moved = await rose.until("round.turn")
    await mentor.send(type="round.skip")
    skipped = await rose.until("round.turn", previous=rose_id)

    assert moved == {**moved, "previous": mentor_id, "current": rose_id}
    assert (moved["passed"], moved["skipped"]) == (False, False)
    assert skipped == {**skipped, "current": jade_id, "passed": False, "skipped": True}
    await rose.close()
    rose, state = await join(room, "member")
    assert state["round"] == {
        "prompt": "One word for how you feel",
        "order": [mentor_id, rose_id, jade_id],
        "current": jade_id,
        "outcomes": {str(mentor_id): "done", str(rose_id): "skipped"},
    }
    await jade.send(type="round.pass")
    await fac.until("round.ended")
    stored = await database_sync_to_async(Round.objects.get)(session=room.session)
    assert stored.outcomes == {
        str(mentor_id): "done",
        str(rose_id): "skipped",
        str(jade_id): "passed",
    }
    for client in (fac, mentor, rose, jade):
        await client.close()


@pytest.mark.parametrize("kind", ["round.skip", "round.next"])
async def test_steering_without_a_round_is_refused_and_members_may_not_steer(kind):
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")

    await fac.send(type=kind)
    assert (await fac.until("error"))["code"] == "no_round"
    await start_round(room, fac)
    await rose.send(type=kind)

    error = await rose.until("error")
    assert error["code"] == "forbidden" and error["ref"] == kind
    await rose.drain()
    assert not [e for e in rose.received if e["type"] == "round.turn"]
    for client in (fac, rose):
        await client.close()


async def test_a_member_who_stepped_out_is_skipped_when_her_turn_comes():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    mentor_id, rose_id, jade_id = (room.member_id(p) for p in ("peer_mentor", "member", "member2"))
    await start_round(room, fac)
    await rose.send(type="presence.set", status="stepped_out")
    await fac.until("presence", status="stepped_out")

    await mentor.send(type="round.done")

    first = await jade.until("round.turn", previous=mentor_id)
    second = await jade.until("round.turn", previous=rose_id)
    assert (first["current"], first["skipped"]) == (rose_id, False)
    assert (second["current"], second["skipped"], second["passed"]) == (jade_id, True, False)
    for client in (fac, mentor, rose, jade):
        await client.close()


async def test_the_speaker_who_steps_out_is_skipped_and_the_round_ends_when_nobody_is_left():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    rose_id = room.member_id("member")
    started = await start_round(room, fac)
    assert started["order"] == [rose_id]

    await rose.send(type="presence.set", status="stepped_out")

    turn = await fac.until("round.turn", previous=rose_id)
    assert turn["current"] is None and turn["skipped"] is True
    await fac.until("round.ended")
    for client in (fac, rose):
        await client.close()


async def test_a_member_stepped_out_when_the_round_starts_is_skipped_at_once():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    rose_id, jade_id = room.member_id("member"), room.member_id("member2")
    await rose.send(type="presence.set", status="stepped_out")
    await fac.until("presence", status="stepped_out")

    started = await start_round(room, fac)

    assert started["current"] == rose_id
    turn = await jade.until("round.turn", previous=rose_id)
    assert turn["current"] == jade_id and turn["skipped"] is True
    for client in (fac, rose, jade):
        await client.close()


async def test_stepping_out_on_one_tab_while_here_on_another_does_not_skip_her():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    other_tab, _ = await join(room, "member")
    await start_round(room, fac)

    await other_tab.send(type="presence.set", status="stepped_out")
    await fac.until("presence", status="stepped_out")

    await fac.drain()
    assert not [e for e in fac.received if e["type"] == "round.turn"]
    for client in (fac, rose, other_tab):
        await client.close()
