"""Keeping the room safe (hide, warnings, mute, remove, pause) and facilitation (rounds,
presence, support requests). Private events reach only the people they are for."""

import pytest
from channels.db import database_sync_to_async

from facilitation.models import Participant, Round
from project.models import AuditEntry
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


async def test_hiding_a_message_removes_it_for_everyone_and_tells_only_the_author_why():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await rose.say("a message that named someone")
    ack = await rose.until("ack")
    await fac.send(type="message.hide", message_id=ack["message_id"], reason="It named a person")
    for client in (fac, rose, jade):
        assert (await client.until("message.hidden"))["message_id"] == ack["message_id"]
    notice = await rose.until("notice")
    assert notice["code"] == "message_hidden" and notice["reason"] == "It named a person"
    assert notice["message"] == (
        "Sam hid your message. Why: It named a person. Only you can see this."
    )
    await jade.drain()
    assert not [e for e in jade.received if e["type"] == "notice"]
    entry = await database_sync_to_async(AuditEntry.objects.get)(action="message.hidden")
    assert "It named a person" not in str(entry.extra)
    for client in (fac, rose, jade):
        await client.close()


async def test_a_host_adds_a_warning_to_a_message_that_needed_one():
    room = await amake_room()
    mentor, _ = await join(room, "peer_mentor")
    jade, _ = await join(room, "member2")
    await jade.say("my ex came round again")
    ack = await jade.until("ack")
    warning = {"category": "physical_violence", "note": None}
    await mentor.send(
        type="message.set_warning", message_id=ack["message_id"], content_warning=warning
    )
    event = await jade.until("message.warning_set")
    assert event["message_id"] == ack["message_id"]
    assert event["content_warning"]["category"] == "physical_violence"
    await jade.send(type="resume", after_seq=ack["seq"] - 1)
    replayed = await jade.until("message", message_id=ack["message_id"])
    assert replayed["content_warning"]["category"] == "physical_violence"
    await mentor.close()
    await jade.close()


async def test_a_muted_member_is_told_why_cannot_post_and_can_post_again_after_unmute():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await fac.send(
        type="member.mute", member_id=room.member_id("member"), minutes=10, reason="Take a breath"
    )
    muted = await fac.until("member.muted")
    assert muted["member_id"] == room.member_id("member") and muted["until"]
    assert "reason" not in muted
    notice = await rose.until("notice")
    assert notice["code"] == "muted" and notice["reason"] == "Take a breath"
    assert notice["message"] == (
        "Sam muted you for 10 minutes. You can still read. Why: Take a breath. "
        "Only you can see this."
    )
    await rose.say("but")
    error = await rose.until("error")
    assert error["code"] == "muted"
    assert not [e for e in jade.received if e["type"] == "notice"]
    await fac.send(type="member.unmute", member_id=room.member_id("member"))
    await jade.until("member.unmuted")
    await rose.say("thank you")
    await rose.until("ack")
    for client in (fac, rose, jade):
        await client.close()


async def test_mute_minutes_outside_one_to_one_hundred_and_twenty_are_refused():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    for minutes in (0, 121, "5", None):
        await fac.send(
            type="member.mute", member_id=room.member_id("member"), minutes=minutes, reason="r"
        )
        assert (await fac.until("error"))["code"] == "invalid"
    muted = await database_sync_to_async(
        lambda: Participant.objects.filter(muted_until__isnull=False).count()
    )()
    assert muted == 0
    await fac.close()


async def test_hosts_cannot_be_muted_or_removed():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    await fac.send(
        type="member.mute", member_id=room.member_id("peer_mentor"), minutes=5, reason="r"
    )
    assert (await fac.until("error"))["code"] == "forbidden"
    await fac.send(type="member.remove", member_id=room.member_id("peer_mentor"), reason="r")
    assert (await fac.until("error"))["code"] == "forbidden"
    await fac.close()


async def test_a_removed_member_gets_nothing_more_and_others_see_her_removed():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await fac.send(type="member.remove", member_id=room.member_id("member"), reason="Pressure")
    removed = await jade.until("member.removed")
    assert removed["member_id"] == room.member_id("member")
    assert await rose.closed_with() == 4403
    await jade.say("after she left")
    await jade.until("ack")
    assert not [e for e in rose.received if e.get("body") == "after she left"]
    response = await database_sync_to_async(room.world.client("member").get)(
        f"/api/v1/sessions/{room.session.pk}/events/"
    )
    assert response.status_code == 403
    await fac.close()
    await jade.close()


async def test_a_round_takes_present_members_in_order_and_a_member_can_pass_without_a_reason():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await fac.send(type="round.start", prompt="One word for how you feel")
    started = await rose.until("round.started")
    order = [room.member_id(p) for p in ("peer_mentor", "member", "member2")]
    assert started["order"] == order and started["current"] == order[0]
    await rose.send(type="round.done")
    assert (await rose.until("error"))["code"] == "not_your_turn"
    await mentor.send(type="round.done")
    turn = await rose.until("round.turn")
    assert turn == {**turn, "previous": order[0], "current": order[1], "passed": False}
    await rose.send(type="round.pass")
    turn = await jade.until("round.turn", previous=order[1])
    assert turn["passed"] is True and turn["current"] == order[2]
    await jade.send(type="round.done")
    last = await fac.until("round.turn", previous=order[2])
    assert last["current"] is None
    await fac.until("round.ended")
    stored = await database_sync_to_async(Round.objects.get)(session=room.session)
    assert stored.passed == [order[1]] and stored.ended_at is not None
    for client in (fac, mentor, rose, jade):
        await client.close()


async def test_a_host_can_end_a_round_early_and_state_shows_the_round_to_newcomers():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await fac.send(type="round.start", prompt="Check in")
    await fac.until("round.started")
    jade, state = await join(room, "member2")
    assert state["round"]["prompt"] == "Check in"
    assert state["round"]["current"] == room.member_id("member")
    await fac.send(type="round.end")
    await jade.until("round.ended")
    await fac.send(type="round.end")
    assert (await fac.until("error"))["code"] == "no_round"
    for client in (fac, rose, jade):
        await client.close()


async def test_when_the_member_whose_turn_it_is_leaves_she_is_skipped_and_the_round_moves_on():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await fac.send(type="round.start", prompt="Check in")
    await fac.until("round.started", current=room.member_id("member"))
    await rose.close()
    turn = await fac.until("round.turn", previous=room.member_id("member"))
    assert turn["skipped"] is True and turn["passed"] is False
    assert turn["current"] == room.member_id("member2")
    await fac.close()
    await jade.close()


async def test_stepping_out_and_back_is_shown_to_the_room_and_leaving_says_left():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await rose.send(type="presence.set", status="stepped_out")
    event = await fac.until("presence", status="stepped_out")
    assert event["member_id"] == room.member_id("member") and event["display_name"] == "Rose"
    await rose.send(type="presence.set", status="here")
    await fac.until("presence", status="here", member_id=room.member_id("member"))
    await rose.close()
    await fac.until("presence", status="left", member_id=room.member_id("member"))
    await fac.close()


async def test_a_support_request_reaches_the_hosts_only():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    await rose.send(type="support.request", note="I need a minute with someone")
    for host in (fac, mentor):
        request = await host.until("support.requested")
        assert request["member_id"] == room.member_id("member")
        assert request["note"] == "I need a minute with someone"
    await jade.drain()
    await rose.drain()
    assert not [e for e in jade.received + rose.received if e["type"] == "support.requested"]
    entry = await database_sync_to_async(AuditEntry.objects.get)(action="support.requested")
    assert "with someone" not in str(entry.extra)
    for client in (fac, mentor, rose, jade):
        await client.close()


async def test_pause_with_a_grounding_note_and_resume():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    await mentor.send(type="session.set_status", status="paused", note="Feet on the floor")
    paused = await rose.until("session.status", status="paused")
    assert paused["note"] == "Feet on the floor"
    await mentor.send(type="session.set_status", status="live")
    await rose.until("session.status", status="live")
    # While the facilitator is here, ending is hers.
    await mentor.send(type="session.set_status", status="ended")
    assert (await mentor.until("error"))["code"] == "forbidden"
    await fac.close()
    await mentor.close()
    await rose.close()
