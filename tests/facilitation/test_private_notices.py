"""Private notices (issue 14): what a host did about her, who and why, stored and told to her
alone; replayed on every `resume` and shown by her room page until she dismisses them."""

import html
import json
import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client as BrowserClient
from django.utils import timezone

from facilitation.models import PrivateNotice
from safeguarding import services as safeguarding_services
from tests.conftest import PASSWORD
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


async def resume_all(client, after_seq):
    """Send `resume`; everything it brought up to and including `resume.done`."""
    await client.send(type="resume", after_seq=after_seq)
    got = []
    while True:
        event = await client.next()
        if event["type"] in {"presence", "heartbeat"}:
            continue
        got.append(event)
        if event["type"] == "resume.done":
            return got


async def hide_one(room, fac, rose, reason="too much detail"):
    await rose.say("something with too much detail")
    ack = await rose.until("ack")
    await fac.send(type="message.hide", message_id=ack["message_id"], reason=reason)
    return ack, await rose.until("notice")


def raw_reasons():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM facilitation_privatenotice")
        return [row[0] for row in cursor.fetchall()]


async def test_a_hidden_message_tells_its_author_who_hid_it_and_why_and_nobody_else():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")

    ack, notice = await hide_one(room, fac, rose)

    assert notice["code"] == "message_hidden"
    assert notice["message"] == (
        "Sam hid your message. Why: too much detail. Only you can see this."
    )
    assert notice["by"] == {
        "member_id": room.member_id("facilitator"),
        "display_name": "Sam",
        "role": "facilitator",
    }
    assert notice["reason"] == "too much detail"
    assert notice["message_id"] == ack["message_id"] and notice["until"] is None
    assert isinstance(notice["notice_id"], int) and notice["at"]
    await jade.drain()
    await fac.drain()
    assert not [e for e in jade.received + fac.received if e["type"] == "notice"]
    stored = await database_sync_to_async(raw_reasons)()
    assert len(stored) == 1 and "too much detail" not in stored[0]
    for client in (fac, rose, jade):
        await client.close()


async def test_her_notices_come_back_on_every_resume_after_the_log_and_before_done():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    _ack, notice = await hide_one(room, fac, rose)
    await rose.close()

    again, state = await join(room, "member")
    replay = await resume_all(again, 0)
    at_the_end = await resume_all(again, state["last_seq"])

    kinds = [e["type"] for e in replay]
    assert kinds[-2:] == ["notice", "resume.done"]
    assert kinds.index("notice") > max(i for i, e in enumerate(replay) if "seq" in e)
    assert replay[-2] == notice
    assert at_the_end == [notice, {"type": "resume.done", "last_seq": state["last_seq"]}]
    jade, jade_state = await join(room, "member2")
    assert [e["type"] for e in await resume_all(jade, jade_state["last_seq"])] == ["resume.done"]
    for client in (fac, again, jade):
        await client.close()


async def test_a_dismissed_notice_leaves_every_tab_of_hers_and_does_not_come_back():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, state = await join(room, "member")
    other_tab, _ = await join(room, "member")
    _ack, notice = await hide_one(room, fac, rose)

    await rose.send(type="notice.dismiss", notice_id=notice["notice_id"])

    for tab in (rose, other_tab):
        dismissed = await tab.until("notice.dismissed")
        assert dismissed == {"type": "notice.dismissed", "notice_id": notice["notice_id"]}
    replay = await resume_all(rose, state["last_seq"])
    assert not [e for e in replay if e["type"] == "notice"]
    for client in (fac, rose, other_tab):
        await client.close()


@pytest.mark.parametrize("whose", ["someone_elses", "unknown", "not_an_id"])
async def test_dismissing_a_notice_that_is_not_hers_is_not_found_and_changes_nothing(whose):
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    _ack, notice = await hide_one(room, fac, rose)
    notice_id = {
        "someone_elses": notice["notice_id"],
        "unknown": notice["notice_id"] + 1000,
        "not_an_id": "first",
    }[whose]

    await jade.send(type="notice.dismiss", notice_id=notice_id)

    error = await jade.until("error")
    assert error["code"] == "not_found" and error["ref"] == "notice.dismiss"
    still = await database_sync_to_async(
        lambda: PrivateNotice.objects.filter(dismissed_at__isnull=True).count()
    )()
    assert still == 1
    await jade.say("still here")
    await jade.until("ack")
    assert not [e for e in rose.received if e["type"] == "notice.dismissed"]
    for client in (fac, rose, jade):
        await client.close()


async def test_a_mute_notice_stands_only_while_the_mute_lasts_and_an_unmute_replaces_it():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, state = await join(room, "member")
    rose_id = room.member_id("member")
    await fac.send(type="member.mute", member_id=rose_id, minutes=5, reason="Take a breath")
    muted = await rose.until("notice", code="muted")
    assert muted["until"] and muted["reason"] == "Take a breath"

    await fac.send(type="member.unmute", member_id=rose_id)

    dismissed = await rose.until("notice.dismissed")
    assert dismissed["notice_id"] == muted["notice_id"]
    unmuted = await rose.until("notice", code="unmuted")
    assert unmuted["message"] == "Sam unmuted you. You can post again. Only you can see this."
    assert unmuted["reason"] is None
    replay = await resume_all(rose, state["last_seq"])
    assert [e["notice_id"] for e in replay if e["type"] == "notice"] == [unmuted["notice_id"]]

    await fac.send(type="member.mute", member_id=rose_id, minutes=5, reason="Again")
    again = await rose.until("notice", code="muted")
    await database_sync_to_async(
        lambda: PrivateNotice.objects.filter(pk=again["notice_id"]).update(
            until=timezone.now() - timedelta(seconds=1)
        )
    )()
    replay = await resume_all(rose, state["last_seq"])
    assert [e for e in replay if e["type"] == "notice"] == []
    for client in (fac, rose):
        await client.close()


async def test_a_warning_with_a_reason_tells_its_author_and_one_without_tells_nobody():
    room = await amake_room()
    mentor, _ = await join(room, "peer_mentor")
    jade, _ = await join(room, "member2")
    await jade.say("my ex came round again")
    ack = await jade.until("ack")
    warning = {"category": "physical_violence", "note": None}

    await mentor.send(
        type="message.set_warning", message_id=ack["message_id"], content_warning=warning
    )
    await jade.until("message.warning_set")
    await mentor.send(
        type="message.set_warning",
        message_id=ack["message_id"],
        content_warning=warning,
        reason="So people can choose to read it",
    )

    notice = await jade.until("notice")
    assert notice["code"] == "warning_added" and notice["message_id"] == ack["message_id"]
    assert notice["message"] == (
        "Mari added a content warning to your message. Why: So people can choose to read it. "
        "Only you can see this."
    )
    assert [e["code"] for e in jade.received if e["type"] == "notice"] == ["warning_added"]
    await mentor.say("a host's own words")
    own = await mentor.until("ack")
    await mentor.send(
        type="message.set_warning",
        message_id=own["message_id"],
        content_warning=warning,
        reason="for myself",
    )
    await mentor.until("message.warning_set", message_id=own["message_id"])
    await mentor.drain()
    assert not [e for e in mentor.received if e["type"] == "notice"]
    await mentor.send(
        type="message.set_warning",
        message_id=ack["message_id"],
        content_warning=warning,
        reason="x" * 501,
    )
    assert (await mentor.until("error"))["code"] == "invalid"
    count = await database_sync_to_async(PrivateNotice.objects.count)()
    assert count == 1
    await mentor.close()
    await jade.close()


def room_config(user, session_id):
    """The room page's `data-config`, as her browser gets it."""
    client = BrowserClient()
    client.force_login(user)
    response = client.get(f"/sessions/{session_id}/room/")
    assert response.status_code == 200
    found = re.search(r'data-config="([^"]*)"', response.content.decode())
    return json.loads(html.unescape(found.group(1)))


async def test_a_removed_member_still_reads_why_on_her_room_page_after_a_reload():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await fac.send(type="member.remove", member_id=room.member_id("member"), reason="Pressure")
    notice = await rose.until("notice", code="removed")
    assert await rose.closed_with() == 4403

    users = room.world.users
    config = await database_sync_to_async(room_config)(users["member"], room.session.pk)
    others = await database_sync_to_async(room_config)(users["member2"], room.session.pk)

    assert config["notices"] == [{k: v for k, v in notice.items() if k != "type"}]
    assert config["display_name"] == "Rose" and config["ended"] is False
    assert config["next_session"] is None and "group_name" not in config
    assert others["notices"] == [] and others["display_name"] == "Jade"
    await fac.close()


def test_retention_empties_a_notices_reason_and_export_and_erasure_handle_notices(world):
    from facilitation import services
    from tests.facilitation.room import make_room

    room = make_room(world=world)
    host, _state = services.room_enter(actor=world.users["facilitator"], session_id=room.session.pk)
    services.member_mute(
        actor=world.users["facilitator"],
        context=host,
        member_id=world.members["member"].pk,
        minutes=5,
        reason="Take a breath",
    )

    exported = safeguarding_services.member_export(actor=world.users["member"])

    assert [(n["code"], n["reason"]) for n in exported["notices"]] == [("muted", "Take a breath")]
    assert "Sam" not in json.dumps(exported["notices"])
    safeguarding_services.purge_expired(now=timezone.now() + timedelta(days=400))
    assert PrivateNotice.objects.get().reason == ""
    safeguarding_services.account_erase(actor=world.users["member"], password=PASSWORD)
    assert PrivateNotice.objects.count() == 0
