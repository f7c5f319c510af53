"""Leaving quickly, quietly (issue 15): the quick exit's sign-out beacon names the room she was
in, and the hosts (only they) hear "Rose left quickly" unless she turned it off in settings.
Everyone else sees only that she left."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client as BrowserClient

from facilitation.models import SupportRequest
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)

PREFERENCE = "tell_hosts_if_i_leave_quickly"


@database_sync_to_async
def quick_exit(user, session_id) -> int:
    """Her browser's sign-out beacon from the room page."""
    browser = BrowserClient()
    browser.force_login(user)
    return browser.post("/signout/", {"beacon": "1", "room": str(session_id)}).status_code


@database_sync_to_async
def set_preference(world, persona, value):
    response = world.client(persona).patch(
        "/api/v1/me/", {"preferences": {PREFERENCE: value}}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


async def test_the_hosts_alone_hear_she_left_quickly_and_the_room_sees_only_that_she_left():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    jade, _ = await join(room, "member2")
    rose, _ = await join(room, "member")

    assert await quick_exit(room.world.users["member"], room.session.pk) == 204
    await rose.close()

    for host in (fac, mentor):
        told = await host.until("support.requested")
        assert told["kind"] == "left_quickly" and told["display_name"] == "Rose"
        assert told["note"] is None and told["status"] == "sent"
    await jade.until("presence", status="left", member_id=room.member_id("member"))
    await jade.drain()
    assert not [e for e in jade.received if e["type"].startswith("support.")]
    row = await database_sync_to_async(SupportRequest.objects.get)()
    assert row.kind == "left_quickly" and row.hosts_told is True and row.note == ""
    for client in (fac, mentor, jade):
        await client.close()


async def test_nothing_is_told_when_she_turned_it_off():
    room = await amake_room()
    me = await set_preference(room.world, "member", False)
    assert me["preferences"][PREFERENCE] is False
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")

    assert await quick_exit(room.world.users["member"], room.session.pk) == 204
    await rose.close()

    await fac.until("presence", status="left")
    await fac.drain()
    assert not [e for e in fac.received if e["type"].startswith("support.")]
    assert await database_sync_to_async(SupportRequest.objects.count)() == 0
    await fac.close()


async def test_a_beacon_naming_a_room_she_was_not_in_or_no_room_tells_nobody():
    room = await amake_room()
    other = await amake_room(world=room.world)
    fac, _ = await join(room, "facilitator")

    for session_id in (other.session.pk, "not-a-room", 2**62):
        assert await quick_exit(room.world.users["member"], session_id) == 204
    outsider_status = await quick_exit(room.world.users["outsider"], room.session.pk)

    assert outsider_status == 204
    assert await fac.nothing()
    assert await database_sync_to_async(SupportRequest.objects.count)() == 0
    await fac.close()


def test_the_preference_is_on_by_default_and_takes_only_yes_or_no(world):
    me = world.client("member").get("/api/v1/me/").json()
    assert me["preferences"][PREFERENCE] is True

    bad = world.client("member").patch(
        "/api/v1/me/", {"preferences": {PREFERENCE: "sometimes"}}, format="json"
    )
    assert bad.status_code == 400
    assert world.client("member").get("/api/v1/me/").json()["preferences"][PREFERENCE] is True

    off = world.client("member").patch(
        "/api/v1/me/", {"preferences": {PREFERENCE: False}}, format="json"
    )
    assert off.json()["preferences"][PREFERENCE] is False
    # Changing content warnings leaves it as it is.
    world.client("member").patch(
        "/api/v1/me/", {"preferences": {"content_warnings": {"other": "show"}}}, format="json"
    )
    again = world.client("member").get("/api/v1/me/").json()["preferences"]
    assert again[PREFERENCE] is False and again["content_warnings"]["other"] == "show"


def test_the_settings_page_sets_it_from_its_checkbox(world):
    browser = BrowserClient()
    browser.force_login(world.users["member"])

    assert browser.get("/settings/").context["tell_hosts_if_i_leave_quickly"] is True
    browser.post("/settings/", {PREFERENCE: ["0"]})
    assert browser.get("/settings/").context["tell_hosts_if_i_leave_quickly"] is False
    browser.post("/settings/", {PREFERENCE: ["0", "1"]})
    assert browser.get("/settings/").context["tell_hosts_if_i_leave_quickly"] is True
    browser.post("/settings/", {})
    assert browser.get("/settings/").context["tell_hosts_if_i_leave_quickly"] is True


async def test_the_hosts_still_hear_it_when_her_socket_closed_just_before_the_beacon_came():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await rose.close()
    await fac.until("presence", status="left", member_id=room.member_id("member"))

    assert await quick_exit(room.world.users["member"], room.session.pk) == 204

    told = await fac.until("support.requested")
    assert told["kind"] == "left_quickly" and told["member_id"] == room.member_id("member")
    # The beacon may come twice (a retry): the hosts hear it once.
    assert await quick_exit(room.world.users["member"], room.session.pk) == 204
    assert await fac.nothing()
    await fac.close()


async def test_nothing_she_can_open_shows_she_left_quickly():
    room = await amake_room()
    await join(room, "facilitator")
    rose, _ = await join(room, "member")
    assert await quick_exit(room.world.users["member"], room.session.pk) == 204
    await rose.close()
    assert await database_sync_to_async(SupportRequest.objects.count)() == 1

    answer = await database_sync_to_async(room.world.client("member").get)(
        f"/api/v1/groups/{room.session.group_id}/support/"
    )
    assert answer.status_code == 200
    assert answer.json() == [] or answer.json().get("results") == []
    again, state = await join(room, "member")
    assert state["me"]["support"] is None
    await again.close()
