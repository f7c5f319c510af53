"""When the facilitator drops, and the end (issue 14): a co-host may end the session while no
facilitator is in the room (`me.may_end` says so at connect); the ended event names the
group's next session, and the room page of an ended session has what its end screen needs."""

import html
import json
import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client as BrowserClient
from django.utils import timezone

from facilitation import events
from facilitation import services as session_services
from tests.facilitation.room import amake_room, join, make_room

pytestmark = pytest.mark.django_db(transaction=True)


def book(room, title, *, starts_in, status=None):
    """Another session of the room's group, starting `starts_in` from now."""
    start = timezone.now() + starts_in
    session = session_services.session_create(
        actor=room.world.users["facilitator"],
        group=room.world.group_a,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        kind="drop_in",
    )
    for step in status or []:
        session = session_services.session_set_status(
            actor=room.world.users["facilitator"], session=session, status=step
        )
    return session


async def test_may_end_says_who_may_end_the_session_now():
    room = await amake_room()
    _mentor, alone = await join(room, "peer_mentor")
    _rose, member = await join(room, "member")
    fac, facilitator = await join(room, "facilitator")
    _mentor2, with_facilitator = await join(room, "peer_mentor")

    assert alone["me"]["may_end"] is True
    assert with_facilitator["me"]["may_end"] is False
    assert facilitator["me"]["may_end"] is True
    assert member["me"]["may_end"] is False
    for client in (_mentor, _rose, fac, _mentor2):
        await client.close()


async def test_a_co_host_ends_the_session_once_the_facilitator_has_left_the_room():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    await mentor.send(type="session.set_status", status="ended")
    assert (await mentor.until("error"))["code"] == "forbidden"

    await fac.close()
    await mentor.until("presence", status="left", member_id=room.member_id("facilitator"))
    await mentor.send(type="session.set_status", status="ended")

    ended = await rose.until("session.status")
    assert ended["status"] == "ended"
    assert await rose.closed_with() == 4410
    await mentor.close()


async def test_the_end_names_the_groups_next_session_that_has_not_ended_and_starts_later():
    room = await amake_room()
    await database_sync_to_async(book)(
        room, "Already over", starts_in=timedelta(days=1), status=["open", "ended"]
    )
    soon = await database_sync_to_async(book)(room, "Next week", starts_in=timedelta(days=7))
    await database_sync_to_async(book)(room, "Later still", starts_in=timedelta(days=14))
    await database_sync_to_async(book)(room, "Started before", starts_in=timedelta(hours=-1))
    fac, _ = await join(room, "facilitator")

    await fac.send(type="session.set_status", status="ended")

    ended = await fac.until("session.status")
    assert ended["next_session"] == {
        "id": soon.pk,
        "title": "Next week",
        "starts_at": events.stamp(soon.starts_at),
    }
    log = await database_sync_to_async(
        lambda: session_services.events_replay(session_id=room.session.pk, after_seq=0)
    )()
    live = [e for e in log if e["type"] == "session.status" and e["status"] == "live"]
    assert live and all("next_session" not in e for e in live)
    await fac.close()


async def test_with_no_session_to_come_the_end_says_so():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")

    await fac.send(type="session.set_status", status="ended")

    assert (await fac.until("session.status"))["next_session"] is None
    await fac.close()


def test_the_room_page_of_an_ended_session_has_what_its_end_screen_needs(world):
    room = make_room(world=world)
    nxt = book(room, "Next week", starts_in=timedelta(days=7))
    session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    client = BrowserClient()
    client.force_login(world.users["member"])

    response = client.get(f"/sessions/{room.session.pk}/room/")

    found = re.search(r'data-config="([^"]*)"', response.content.decode())
    config = json.loads(html.unescape(found.group(1)))
    assert config["ended"] is True
    assert config["next_session"] == {
        "id": nxt.pk,
        "title": "Next week",
        "starts_at": events.stamp(nxt.starts_at),
    }
    assert config["display_name"] == "Rose" and config["notices"] == []
    assert "group_name" not in config
