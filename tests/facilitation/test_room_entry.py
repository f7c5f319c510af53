"""Entering the live room: every close code of PROTOCOL.md, the first event, attendance."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import Attendance
from groups import services as group_services
from tests.facilitation.room import amake_room, connect, join

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_anonymous_visitor_is_closed_with_4401():
    room = await amake_room()
    client, state = await connect(room, None)
    assert state is None and client.close_code == 4401


async def test_a_deactivated_account_is_closed_with_4401():
    room = await amake_room()
    client, state = await connect(room, room.world.tokens["deactivated"])
    assert state is None and client.close_code == 4401


async def test_an_unknown_session_is_closed_with_4404():
    room = await amake_room()
    client, state = await connect(999999, room.world.tokens["member"])
    assert state is None and client.close_code == 4404


async def test_someone_from_another_group_cannot_tell_the_session_exists():
    room = await amake_room()
    for persona in ("outsider", "other_facilitator"):
        client, state = await connect(room, room.world.tokens[persona])
        assert state is None and client.close_code == 4404, persona


async def test_a_member_removed_from_the_group_is_closed_with_4403():
    room = await amake_room()
    world = room.world
    await database_sync_to_async(group_services.member_remove)(
        actor=world.users["facilitator"], group=world.group_a, member_id=world.members["member"].pk
    )
    client, state = await connect(room, world.tokens["member"])
    assert state is None and client.close_code == 4403


async def test_a_member_who_has_not_accepted_the_current_agreement_is_closed_with_4409():
    # Issue 16: the version published before the session opened is the one that binds it.
    room = await amake_room(status="scheduled")
    world = room.world
    await database_sync_to_async(group_services.agreement_publish)(
        actor=world.users["facilitator"], group=world.group_a, points=["A new point"]
    )
    for step in ("open", "live"):
        await database_sync_to_async(session_services.session_set_status)(
            actor=world.users["facilitator"], session=room.session, status=step
        )
    client, state = await connect(room, world.tokens["member"])
    assert state is None and client.close_code == 4409


async def test_members_wait_outside_a_scheduled_session_but_hosts_may_enter_to_open_it():
    room = await amake_room(status="scheduled")
    client, state = await connect(room, room.world.tokens["member"])
    assert state is None and client.close_code == 4410
    host, host_state = await join(room, "peer_mentor")
    assert host_state["session"]["status"] == "scheduled"
    await host.send(type="session.set_status", status="open")
    event = await host.until("session.status")
    assert event["status"] == "open"
    await host.close()


async def test_nobody_enters_an_ended_session():
    room = await amake_room(status="ended")
    for persona in ("member", "facilitator"):
        client, state = await connect(room, room.world.tokens[persona])
        assert state is None and client.close_code == 4410, persona


async def test_the_first_event_describes_the_room_and_the_member():
    room = await amake_room()
    host, _ = await join(room, "facilitator")
    rose, state = await join(room, "member")
    assert state["session"] == {
        "id": room.session.pk,
        "title": "Evening circle",
        "status": "live",
    }
    assert state["me"]["member_id"] == room.member_id("member")
    assert state["me"]["role"] == "member"
    assert state["me"]["muted_until"] is None
    present = {p["member_id"]: p for p in state["present"]}
    assert set(present) == {room.member_id("facilitator"), room.member_id("member")}
    assert present[room.member_id("facilitator")]["role"] == "facilitator"
    assert "user_id" not in str(state)
    assert state["round"] is None
    assert state["last_seq"] == room.session.last_seq
    arrival = await host.until("presence", member_id=room.member_id("member"))
    assert arrival["status"] == "here" and arrival["display_name"] == "Rose"
    await host.close()
    await rose.close()


async def test_attendance_records_when_she_joined_and_left():
    room = await amake_room()
    rose, _ = await join(room, "member")
    rows = await database_sync_to_async(list)(Attendance.objects.filter(session=room.session))
    assert len(rows) == 1 and rows[0].left_at is None
    await rose.close()
    row = await database_sync_to_async(Attendance.objects.get)(pk=rows[0].pk)
    assert row.left_at is not None and row.left_at >= row.joined_at


async def test_a_stopping_process_closes_its_open_attendance_and_the_room_hears_who_left():
    """Issue 20: Daphne stops a process without the consumers' `disconnect`; the process closes
    the rows it holds in one statement (project/serve.py calls this on shutdown)."""
    room = await amake_room()
    host, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    mentor, _ = await join(room, "peer_mentor")

    def arrange() -> None:
        # The host's connection, and a second one of the peer mentor's, are another process's.
        Attendance.objects.filter(
            session=room.session, membership_id=room.member_id("facilitator")
        ).update(process="another-process")
        Attendance.objects.create(
            session=room.session,
            membership_id=room.member_id("peer_mentor"),
            process="another-process",
        )
        # A row opened before rows named their process is not this process's (and, stale,
        # does not keep her here either).
        Attendance.objects.create(
            session=room.session,
            membership_id=room.member_id("member"),
            process="",
            last_seen_at=timezone.now() - timedelta(hours=2),
        )

    await database_sync_to_async(arrange)()
    await host.drain()

    closed = await database_sync_to_async(session_services.room_close_process)()

    assert closed == 2
    rows = await database_sync_to_async(list)(
        Attendance.objects.filter(session=room.session).values_list(
            "membership_id", "process", "left_at"
        )
    )
    still_open = {(member, process) for member, process, left_at in rows if left_at is None}
    assert still_open == {
        (room.member_id("facilitator"), "another-process"),
        (room.member_id("peer_mentor"), "another-process"),
        (room.member_id("member"), ""),
    }
    left = await host.until("presence", member_id=room.member_id("member"), status="left")
    assert left["display_name"] == "Rose"
    heard = await host.drain()
    assert not [e for e in heard if e["type"] == "presence"], heard
    # Nothing left to close the second time.
    assert await database_sync_to_async(session_services.room_close_process)() == 0
    for client in (host, rose, mentor):
        await client.close()


async def test_a_member_removed_from_the_session_cannot_come_back():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await fac.send(
        type="member.remove", member_id=room.member_id("member"), reason="Pressuring others"
    )
    notice = await rose.until("notice")
    assert notice["code"] == "removed" and notice["reason"] == "Pressuring others"
    assert notice["message"] == (
        "Sam removed you from this session. Why: Pressuring others. Only you can see this."
    )
    assert await rose.closed_with() == 4403
    again, state = await connect(room, room.world.tokens["member"])
    assert state is None and again.close_code == 4403
    await fac.close()


async def test_removal_from_the_group_over_rest_closes_her_live_connection():
    room = await amake_room()
    rose, _ = await join(room, "member")
    world = room.world
    await database_sync_to_async(group_services.member_remove)(
        actor=world.users["facilitator"], group=world.group_a, member_id=world.members["member"].pk
    )
    assert await rose.closed_with() == 4403


async def test_ending_the_session_closes_the_room_for_everyone():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await fac.send(type="session.set_status", status="ended")
    ended = await rose.until("session.status")
    assert ended["status"] == "ended"
    assert await rose.closed_with() == 4410
    assert await fac.closed_with() == 4410


async def test_a_session_ended_over_rest_closes_the_room_too():
    room = await amake_room()
    rose, _ = await join(room, "member")
    await database_sync_to_async(session_services.session_set_status)(
        actor=room.world.users["facilitator"], session=room.session, status="ended"
    )
    assert await rose.closed_with() == 4410
