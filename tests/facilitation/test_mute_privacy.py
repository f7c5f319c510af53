"""A mute is not announced by name (issue 14): the hosts and the muted member read
`member.muted` / `member.unmuted` whole; everyone else reads the same seq with nobody named,
live, on `resume` and over REST. Hosts see who is muted until when, and who was removed."""

import pytest
from channels.db import database_sync_to_async

from facilitation import events
from facilitation.log import events_replay
from facilitation.models import Participant
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


def rest_events(room, persona, after_seq=0):
    response = room.world.client(persona).get(
        f"/api/v1/sessions/{room.session.pk}/events/?after_seq={after_seq}"
    )
    assert response.status_code == 200
    return {e["seq"]: e for e in response.json()["results"]}


async def test_only_the_hosts_and_she_learn_who_is_muted_the_room_reads_nobody():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    rose_id = room.member_id("member")

    await fac.send(type="member.mute", member_id=rose_id, minutes=10, reason="Take a breath")

    whole = [await c.until("member.muted") for c in (fac, mentor, rose)]
    seen = await jade.until("member.muted")
    for event in whole:
        assert event["member_id"] == rose_id and event["until"] and event["announced"] is False
    assert seen == {
        "type": "member.muted",
        "seq": whole[0]["seq"],
        "member_id": None,
        "until": None,
        "announced": False,
    }
    await fac.send(type="member.unmute", member_id=rose_id)
    assert (await rose.until("member.unmuted"))["member_id"] == rose_id
    unmuted = await jade.until("member.unmuted")
    assert unmuted["member_id"] is None and unmuted["announced"] is False
    for client in (fac, mentor, rose, jade):
        await client.close()


async def test_a_host_who_tells_the_room_lets_it_know_someone_is_taking_a_pause_never_who():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    jade, _ = await join(room, "member2")
    rose_id = room.member_id("member")

    await fac.send(type="member.mute", member_id=rose_id, minutes=5, reason="r", tell_room=True)

    seen = await jade.until("member.muted")
    assert (seen["member_id"], seen["until"], seen["announced"]) == (None, None, True)
    assert (await fac.until("member.muted"))["announced"] is True
    await fac.send(type="member.unmute", member_id=rose_id)
    assert (await jade.until("member.unmuted"))["announced"] is True
    await fac.send(type="member.mute", member_id=rose_id, minutes=5, reason="r", tell_room="yes")
    error = await fac.until("error")
    assert error["code"] == "invalid" and "tell_room" in error["fields"]
    muted = await database_sync_to_async(
        lambda: Participant.objects.filter(muted_until__isnull=False).count()
    )()
    assert muted == 0
    await fac.close()
    await jade.close()


async def test_a_replayed_mute_names_her_only_to_the_hosts_and_to_her_on_resume_and_over_rest():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    rose_id = room.member_id("member")
    await fac.send(type="member.mute", member_id=rose_id, minutes=5, reason="r")
    seq = (await fac.until("member.muted"))["seq"]

    for client, named in ((fac, True), (rose, True), (jade, False)):
        await client.send(type="resume", after_seq=seq - 1)
        replayed = await client.until("member.muted")
        assert replayed["seq"] == seq
        assert (replayed["member_id"] == rose_id) is named
        assert (replayed["until"] is not None) is named
    for persona, named in (("facilitator", True), ("member", True), ("member2", False)):
        logged = (await database_sync_to_async(rest_events)(room, persona, seq - 1))[seq]
        assert (logged["member_id"] == rose_id) is named, persona
    for client in (fac, rose, jade):
        await client.close()


def test_the_log_replays_a_mute_whole_only_to_a_reader_who_may_read_it(world):
    from facilitation import services
    from tests.facilitation.room import make_room

    room = make_room(world=world)
    host, _state = services.room_enter(actor=world.users["facilitator"], session_id=room.session.pk)
    rose_id = world.members["member"].pk
    services.member_mute(
        actor=world.users["facilitator"], context=host, member_id=rose_id, minutes=5, reason="r"
    )

    def replayed(reader):
        return events_replay(session_id=room.session.pk, after_seq=0, reader=reader)

    as_host = replayed(events.Reader(member_id=host.member_id, is_host=True))[-1]
    as_her = replayed(events.Reader(member_id=rose_id, is_host=False))[-1]
    as_jade = replayed(events.Reader(member_id=world.members["member2"].pk, is_host=False))[-1]
    as_nobody = events_replay(session_id=room.session.pk, after_seq=0)[-1]

    assert as_host["member_id"] == as_her["member_id"] == rose_id
    assert as_jade == as_nobody == events.about_someone(as_host)


async def test_hosts_see_who_is_muted_until_when_and_who_was_removed_and_members_do_not():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    gone, _ = await join(room, "member2")
    await fac.send(type="member.mute", member_id=room.member_id("member"), minutes=5, reason="r")
    until = (await fac.until("member.muted"))["until"]
    await fac.send(type="member.remove", member_id=room.member_id("member2"), reason="r")
    await fac.until("member.removed")
    assert await gone.closed_with() == 4403

    mentor, host_state = await join(room, "peer_mentor")
    await rose.close()
    rose, member_state = await join(room, "member")

    entries = {e["member_id"]: e for e in host_state["present"]}
    assert entries[room.member_id("member")]["muted_until"] == until
    assert entries[room.member_id("facilitator")]["muted_until"] is None
    assert host_state["removed"] == [
        {"member_id": room.member_id("member2"), "display_name": "Jade"}
    ]
    assert "removed" not in member_state
    assert all("muted_until" not in e for e in member_state["present"])
    assert member_state["me"]["muted_until"] == until
    for client in (fac, mentor, rose):
        await client.close()


async def test_a_mute_whose_broadcast_was_lost_is_filled_from_the_log_without_her_name(
    monkeypatch,
):
    from project import realtime

    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    jade, _ = await join(room, "member2")
    send_now = realtime.send_now

    def lose_mutes(group, message):
        if '"member.muted"' not in message.get("text", ""):
            send_now(group, message)

    monkeypatch.setattr(realtime, "send_now", lose_mutes)
    await fac.send(type="member.mute", member_id=room.member_id("member"), minutes=5, reason="r")
    await fac.drain(0.5)
    monkeypatch.setattr(realtime, "send_now", send_now)
    client_id = await fac.say("the next thing said")

    for client, named in ((fac, True), (jade, False)):
        filled = await client.until("member.muted")
        assert (filled["member_id"] is not None) is named
        await client.until("message", client_id=client_id)
    await fac.close()
    await jade.close()
