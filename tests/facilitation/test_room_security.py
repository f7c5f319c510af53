"""Holes an insider could use in the live room, closed (issue 13): history before she came,
resume floods, too many sockets, frame floods, rights that outlive a change, and a browser
session that ends while its socket stays open."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session as DjangoSession
from django.test import Client as BrowserClient

from facilitation import delivery, services
from facilitation.services import FRAME_LIMITS, SOCKETS_PER_MEMBER
from groups import services as group_services
from groups.models import User
from project.models import AuditEntry
from tests.facilitation.room import Client, amake_room, connect, join

pytestmark = pytest.mark.django_db(transaction=True)


async def say_many(client: Client, count: int) -> None:
    for index in range(count):
        await client.say(f"said before {index}")
        await client.until("ack")


async def resume(client: Client, after_seq: int) -> tuple[list[dict], dict]:
    """Send `resume`; the durable events (and markers) it brought, and its `resume.done`."""
    await client.send(type="resume", after_seq=after_seq)
    replayed = []
    while True:
        event = await client.next()
        if event["type"] == "resume.done":
            return replayed, event
        if "seq" in event:
            replayed.append(event)


# --- history before she came ------------------------------------------------------------------


async def test_a_member_who_comes_later_reads_a_marker_never_what_was_said_before():
    room = await amake_room()
    rose, _state = await join(room, "member")
    await say_many(rose, 3)
    jade, state = await join(room, "member2")

    replayed, done = await resume(jade, 0)

    assert replayed == [{"type": "history.hidden", "seq": state["last_seq"]}]
    assert done["last_seq"] == state["last_seq"]
    assert not any("said before" in str(event) for event in jade.received)
    # What is said after she came reaches her, live and in a later resume.
    await rose.say("after she came")
    live = await jade.until("message")
    again, _done = await resume(jade, 0)
    assert live["body"] == "after she came"
    assert [e["type"] for e in again] == ["history.hidden", "message"]
    assert again[1]["body"] == "after she came"


async def test_a_host_who_comes_later_reads_everything():
    room = await amake_room()
    rose, _state = await join(room, "member")
    await say_many(rose, 2)
    host, _state = await join(room, "facilitator")

    replayed, _done = await resume(host, 0)

    bodies = [e.get("body") for e in replayed if e["type"] == "message"]
    assert bodies == ["said before 0", "said before 1"]
    assert all(e["type"] != "history.hidden" for e in replayed)


async def test_the_rest_log_shows_a_later_member_only_what_came_after_she_joined_the_group():
    room = await amake_room()
    rose, _state = await join(room, "member")
    await say_many(rose, 2)

    @database_sync_to_async
    def newcomer_reads() -> tuple[int, dict]:
        world = room.world
        _invite, code = group_services.invite_create(
            actor=world.users["facilitator"], group=world.group_a, role="member"
        )
        browser = BrowserClient()
        answer = browser.post(
            f"/api/v1/invites/{code}/redeem/",
            {"username": "late-comer", "password": "a long enough pass 1", "display_name": "Ivy"},
            content_type="application/json",
        )
        assert answer.status_code == 201, answer.content
        browser.force_login(User.objects.get(username="late-comer"))
        version = world.group_a.agreements.order_by("-version").first().version
        accepted = browser.post(
            f"/api/v1/groups/{world.group_a.pk}/agreement/accept/",
            {"version": version},
            content_type="application/json",
        )
        assert accepted.status_code == 200, accepted.content
        log = browser.get(f"/api/v1/sessions/{room.session.pk}/events/")
        return log.status_code, log.json()

    status, page = await newcomer_reads()
    await rose.say("after she joined")
    await rose.until("ack")

    assert status == 200
    assert [e["type"] for e in page["results"]] == ["history.hidden"]
    assert "said before" not in str(page)


async def test_the_rest_log_is_refused_like_the_room_until_the_agreement_is_accepted():
    # Issue 16: a version binds the sessions that open after it was published.
    room = await amake_room(status="scheduled")

    @database_sync_to_async
    def read_after_a_new_version() -> tuple[int, str, int]:
        world = room.world
        group_services.agreement_publish(
            actor=world.users["facilitator"], group=world.group_a, points=["Be kind", "New"]
        )
        for step in ("open", "live"):
            services.session_set_status(
                actor=world.users["facilitator"], session=room.session, status=step
            )
        answer = world.client("member").get(f"/api/v1/sessions/{room.session.pk}/events/")
        return answer.status_code, answer.json()["code"], room.session.pk

    status, code, session_id = await read_after_a_new_version()
    refused, state = await connect(session_id, room.world.tokens["member"])

    assert (status, code) == (403, "agreement_required")
    assert state is None
    assert refused.close_code == 4409


# --- resume -----------------------------------------------------------------------------------


async def test_one_resume_replays_a_bounded_range_and_marks_the_rest(monkeypatch):
    monkeypatch.setattr(delivery, "RESUME_RANGE_MAX", 3)
    room = await amake_room()
    rose, state = await join(room, "member")
    first = state["last_seq"]
    await say_many(rose, 6)
    await rose.drain()
    newest = first + 6

    replayed, done = await resume(rose, first)

    assert replayed[0] == {"type": "history.hidden", "seq": newest - 3}
    assert [e["seq"] for e in replayed[1:]] == [newest - 2, newest - 1, newest]
    assert done["last_seq"] == newest


async def test_resumes_are_limited_per_member_and_a_refused_one_replays_nothing():
    room = await amake_room()
    rose, state = await join(room, "member")
    allowed = FRAME_LIMITS["resume"].count
    for _ in range(allowed):
        await resume(rose, state["last_seq"])

    await rose.send(type="resume", after_seq=0)
    refused = await rose.until("error")

    assert refused["code"] == "rate_limited"
    assert refused["ref"] == "resume"
    assert await rose.nothing()


# --- sockets and frames -----------------------------------------------------------------------


async def test_a_member_gets_at_most_a_few_sockets_to_one_session():
    room = await amake_room()
    tabs = [await join(room, "member") for _ in range(SOCKETS_PER_MEMBER)]

    extra, state = await connect(room, room.world.tokens["member"])
    other, other_state = await join(room, "member2")

    assert state is None
    assert extra.close_code == 4429
    assert other_state["type"] == "session.state"
    await tabs[0][0].close()
    # Once one tab has gone, she can come back in.
    again, again_state = await join(room, "member")
    assert again_state["type"] == "session.state"
    for tab, _state in tabs[1:]:
        await tab.close()
    await again.close()
    await other.close()


@pytest.mark.parametrize("kind", ["support.request", "presence.set"])
async def test_every_kind_of_frame_is_limited_per_member_and_a_refused_one_writes_nothing(kind):
    room = await amake_room()
    rose, _state = await join(room, "member")
    host, _state = await join(room, "facilitator")
    frame = {"type": kind, "status": "here"} if kind == "presence.set" else {"type": kind}
    allowed = FRAME_LIMITS[kind].count
    for _ in range(allowed):
        await rose.send(**frame)
    await host.drain()
    audits = await database_sync_to_async(
        AuditEntry.objects.filter(action=kind.replace(".request", ".requested")).count
    )()

    await rose.send(**frame)
    refused = await rose.until("error")

    assert refused["code"] == "rate_limited"
    assert await host.nothing()
    after = await database_sync_to_async(
        AuditEntry.objects.filter(action=kind.replace(".request", ".requested")).count
    )()
    assert after == audits


async def test_a_second_tab_shares_the_members_window():
    room = await amake_room()
    tab_one, _state = await join(room, "member")
    tab_two, _state = await join(room, "member")
    for _ in range(FRAME_LIMITS["support.request"].count + 1):
        await tab_one.send(type="support.request")
    assert (await tab_one.until("error"))["code"] == "rate_limited"

    await tab_two.send(type="support.request")

    assert (await tab_two.until("error"))["code"] == "rate_limited"


# --- rights that change while she is in the room ----------------------------------------------


async def test_a_co_host_taken_off_the_list_stops_hearing_support_requests_at_once():
    room = await amake_room()
    mentor, state = await join(room, "peer_mentor")
    assert state["me"]["is_host"] is True
    rose, _state = await join(room, "member")

    @database_sync_to_async
    def drop_co_hosts() -> None:
        services.session_update(
            actor=room.world.users["facilitator"], session=room.session, co_hosts=[]
        )

    await drop_co_hosts()
    fresh = await mentor.until("session.state")
    await rose.send(type="support.request")
    await rose.drain()

    assert fresh["me"]["is_host"] is False
    assert not any(e["type"] == "support.requested" for e in mentor.received)
    await mentor.send(type="round.start", prompt="One word")
    assert (await mentor.until("error"))["code"] == "forbidden"


async def test_a_demoted_host_follows_her_new_role_at_once():
    room = await amake_room(co_host=False)
    mentor, state = await join(room, "peer_mentor")
    assert state["me"]["is_host"] is False

    @database_sync_to_async
    def make_co_host() -> None:
        services.session_update(
            actor=room.world.users["facilitator"],
            session=room.session,
            co_hosts=[room.member_id("peer_mentor")],
        )

    await make_co_host()
    promoted = await mentor.until("session.state")

    @database_sync_to_async
    def demote() -> None:
        group_services.member_change_role(
            actor=room.world.users["facilitator"],
            group=room.world.group_a,
            member_id=room.member_id("peer_mentor"),
            role="member",
        )

    await demote()
    demoted = await mentor.until("session.state")

    assert promoted["me"]["is_host"] is True
    assert demoted["me"] == {**demoted["me"], "is_host": False, "role": "member"}


# --- browser sessions that end --------------------------------------------------------------


async def test_a_socket_whose_browser_session_expires_or_is_deleted_is_closed(settings):
    settings.HAVEN_HEARTBEAT_SECONDS = 0.5
    room = await amake_room()
    browser = BrowserClient()
    await database_sync_to_async(browser.force_login)(room.world.users["member"])
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    rose, state = await connect(
        room, None, headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    )
    assert state is not None

    # Not a sign-out (that pushes a close): the session row simply goes, as on expiry.
    await database_sync_to_async(DjangoSession.objects.filter(session_key=cookie).delete)()

    assert await rose.closed_with(timeout=5) == 4401
