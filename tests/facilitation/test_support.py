"""The support loop (issue 15): "I need support" is stored, told honestly (a host was there to
be told, or not), kept for the group's facilitators, and answered (seen, taken, closed) where
she and the hosts both see it; never on the session group."""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from facilitation.models import SupportRequest
from project.models import AuditEntry
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


def raw_notes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM facilitation_supportrequest")
        return [row[0] for row in cursor.fetchall()]


def count() -> int:
    return SupportRequest.objects.count()


async def ask(client, **fields):
    fields.setdefault("client_id", str(uuid.uuid4()))
    await client.send(type="support.request", **fields)
    return fields["client_id"]


async def test_with_a_host_present_she_is_told_a_host_was_told_and_only_hosts_hear_it():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")

    client_id = await ask(rose, kind="message_me", note="Can someone message me")

    sent = await rose.until("support.sent")
    assert sent["client_id"] == client_id and sent["kind"] == "message_me"
    assert sent["hosts_told"] is True and sent["status"] == "sent" and sent["by"] is None
    assert isinstance(sent["request_id"], int) and sent["at"]
    for host in (fac, mentor):
        told = await host.until("support.requested")
        assert told == {
            "type": "support.requested",
            "member_id": room.member_id("member"),
            "display_name": "Rose",
            "note": "Can someone message me",
            "request_id": sent["request_id"],
            "kind": "message_me",
            "at": sent["at"],
            "status": "sent",
            "by": None,
        }
    await jade.drain()
    assert not [e for e in jade.received if e["type"].startswith("support.")]
    stored = await database_sync_to_async(raw_notes)()
    assert len(stored) == 1 and "message me" not in stored[0]
    entry = await database_sync_to_async(AuditEntry.objects.get)(action="support.requested")
    assert "message me" not in str(entry.extra) and entry.extra["hosts_told"] is True
    for client in (fac, mentor, rose, jade):
        await client.close()


async def test_with_no_host_present_she_is_told_so_and_the_request_waits_for_the_hosts():
    room = await amake_room()
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")

    await ask(rose, kind="not_safe")
    sent = await rose.until("support.sent")

    assert sent["hosts_told"] is False and sent["kind"] == "not_safe"
    fac, state = await join(room, "facilitator")
    assert [e["request_id"] for e in state["support"]] == [sent["request_id"]]
    assert state["support"][0]["kind"] == "not_safe" and "type" not in state["support"][0]
    assert "support" not in (await join(room, "member2"))[1]
    listed = await database_sync_to_async(
        lambda: room.world.client("facilitator").get(
            f"/api/v1/groups/{room.world.group_a.pk}/support/"
        )
    )()
    assert [r["request_id"] for r in listed.json()["results"]] == [sent["request_id"]]
    for client in (fac, rose, jade):
        await client.close()


async def test_the_same_client_id_again_stores_nothing_new_and_tells_the_hosts_once():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    client_id = await ask(rose, note="first")
    first = await rose.until("support.sent")
    await fac.until("support.requested")
    await rose.close()

    again, state = await join(room, "member")
    assert state["me"]["support"]["request_id"] == first["request_id"]
    await ask(again, client_id=client_id, note="first", kind="not_safe")
    second = await again.until("support.sent")

    assert second == first
    assert await database_sync_to_async(count)() == 1
    await fac.drain()
    assert len([e for e in fac.received if e["type"] == "support.requested"]) == 1
    for client in (fac, again):
        await client.close()


async def test_seen_taken_and_closed_reach_her_and_every_host_and_survive_a_reload():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")
    await ask(rose)
    request_id = (await rose.until("support.sent"))["request_id"]
    mari = {
        "member_id": room.member_id("peer_mentor"),
        "display_name": "Mari",
        "role": "peer_mentor",
    }

    for frame, status in (("support.seen", "seen"), ("support.take", "taken")):
        await mentor.send(type=frame, request_id=request_id)
        for client in (rose, fac, mentor):
            updated = await client.until("support.updated", status=status)
            assert updated["request_id"] == request_id and updated["by"] == mari and updated["at"]

    _tab, state = await join(room, "member")
    assert state["me"]["support"]["status"] == "taken" and state["me"]["support"]["by"] == mari
    _host, host_state = await join(room, "facilitator")
    assert host_state["support"][0]["status"] == "taken"
    await fac.send(type="support.take", request_id=request_id)
    assert (await fac.until("error"))["code"] == "already_taken"
    await fac.send(type="support.close", request_id=request_id)
    closed = await rose.until("support.updated", status="closed")
    assert closed["by"]["display_name"] == "Sam"
    _later, later_state = await join(room, "facilitator")
    assert later_state["support"] == []
    audits = await database_sync_to_async(
        lambda: sorted(
            AuditEntry.objects.filter(action__startswith="support.").values_list(
                "action", flat=True
            )
        )
    )()
    assert audits == ["support.closed", "support.requested", "support.seen", "support.taken"]
    for client in (fac, mentor, rose, _tab, _host, _later):
        await client.close()


async def test_a_member_cannot_answer_requests_and_another_sessions_request_is_not_found():
    room = await amake_room()
    other = await amake_room(world=room.world)
    rose, _ = await join(room, "member")
    await ask(rose)
    request_id = (await rose.until("support.sent"))["request_id"]
    fac_elsewhere, _ = await join(other, "facilitator")
    jade, _ = await join(room, "member2")

    await jade.send(type="support.take", request_id=request_id)
    refused = await jade.until("error")
    await fac_elsewhere.send(type="support.take", request_id=request_id)
    missing = await fac_elsewhere.until("error")

    assert refused["code"] == "forbidden" and refused["ref"] == "support.take"
    assert missing["code"] == "not_found"
    row = await database_sync_to_async(SupportRequest.objects.get)(pk=request_id)
    assert row.status == "sent"
    await jade.say("still here")
    await jade.until("ack")
    for client in (rose, fac_elsewhere, jade):
        await client.close()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "left_quickly"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"note": "x" * 501}, "note"),
        ({"note": ["a list"]}, "note"),
    ],
)
async def test_bad_input_is_refused_with_the_field_and_writes_nothing(fields, field):
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await fac.until("presence", member_id=room.member_id("member"))

    await rose.send(type="support.request", **fields)
    error = await rose.until("error")

    assert error["code"] == "invalid" and field in error["fields"]
    assert await database_sync_to_async(count)() == 0
    assert await fac.nothing()
    for client in (fac, rose):
        await client.close()


async def test_a_request_before_the_session_opens_is_refused_not_live():
    room = await amake_room(status="scheduled")
    fac, _ = await join(room, "facilitator")

    await ask(fac)

    assert (await fac.until("error"))["code"] == "not_live"
    assert await database_sync_to_async(count)() == 0
    await fac.close()


# --- the group page (REST) -------------------------------------------------------------------


def test_asking_from_the_group_page_keeps_it_for_the_facilitators(world):
    url = f"/api/v1/groups/{world.group_a.pk}/support/"
    client_id = str(uuid.uuid4())
    body = {"kind": "minute", "note": "Not in a session", "client_id": client_id}

    first = world.client("member").post(url, body, format="json")
    again = world.client("member").post(url, body, format="json")

    assert first.status_code == 201 and again.json() == first.json()
    made = first.json()
    assert made["session_id"] is None and made["hosts_told"] is False
    assert made["status"] == "sent" and made["note"] == "Not in a session"
    assert SupportRequest.objects.count() == 1
    assert [r["request_id"] for r in world.client("member").get(url).json()["results"]] == [
        made["request_id"]
    ]
    assert world.client("member2").get(url).json()["results"] == []
    facilitator = world.client("facilitator")
    assert [r["request_id"] for r in facilitator.get(url).json()["results"]] == [made["request_id"]]

    status_url = f"{url}{made['request_id']}/status/"
    taken = facilitator.post(status_url, {"status": "taken"}, format="json")
    assert taken.status_code == 200 and taken.json()["status"] == "taken"
    assert taken.json()["by"]["display_name"] == "Sam"
    assert (
        world.client("member").post(status_url, {"status": "closed"}, format="json").status_code
        == 403
    )
    closed = facilitator.post(status_url, {"status": "closed"}, format="json")
    assert closed.json()["status"] == "closed"
    assert facilitator.get(url).json()["results"] == []


def test_bad_input_from_the_group_page_is_a_400_with_fields_and_writes_nothing(world):
    url = f"/api/v1/groups/{world.group_a.pk}/support/"
    bad = {"kind": "left_quickly", "note": "x" * 501, "client_id": "nope"}

    response = world.client("member").post(url, bad, format="json")

    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"kind", "note", "client_id"}
    assert SupportRequest.objects.count() == 0


def test_a_member_of_another_group_finds_neither_the_list_nor_a_request(world):
    url = f"/api/v1/groups/{world.group_a.pk}/support/"
    made = (
        world.client("member")
        .post(url, {"kind": "minute", "client_id": str(uuid.uuid4())}, format="json")
        .json()
    )
    outsider = world.client("outsider")

    assert outsider.get(url).status_code == 404
    assert (
        outsider.post(
            f"{url}{made['request_id']}/status/", {"status": "seen"}, format="json"
        ).status_code
        == 404
    )
    other_group = f"/api/v1/groups/{world.group_b.pk}/support/{made['request_id']}/status/"
    answer = world.client("other_facilitator").post(other_group, {"status": "seen"}, format="json")
    assert answer.status_code == 404
    assert SupportRequest.objects.get().status == "sent"


async def test_an_answer_to_a_request_from_the_group_page_reaches_her_in_a_room():
    room = await amake_room()
    rose, _ = await join(room, "member")
    world = room.world
    url = f"/api/v1/groups/{world.group_a.pk}/support/"

    @database_sync_to_async
    def ask_and_take():
        made = world.client("member").post(
            url, {"kind": "message_me", "client_id": str(uuid.uuid4())}, format="json"
        )
        taken = world.client("facilitator").post(
            f"{url}{made.json()['request_id']}/status/", {"status": "taken"}, format="json"
        )
        return made.json(), taken.json()

    made, taken = await ask_and_take()

    updated = await rose.until("support.updated")
    assert updated["request_id"] == made["request_id"] and updated["status"] == "taken"
    assert updated["by"] == taken["by"] and taken["by"]["display_name"] == "Sam"
    await rose.close()
