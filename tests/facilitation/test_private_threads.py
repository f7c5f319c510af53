"""A private word with a host (issue 15): one thread per member, between her and the group's
hosts; both ways in the room, replayed on resume, never to another member; over REST for her
and the facilitators."""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from facilitation.models import PrivateMessage, PrivateThread
from project.models import AuditEntry
from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = "Can we talk after, just us"


def raw_bodies() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM facilitation_privatemessage")
        return [row[0] for row in cursor.fetchall()]


def count() -> int:
    return PrivateMessage.objects.count()


async def write(client, body=WORDS, **fields):
    fields.setdefault("client_id", str(uuid.uuid4()))
    await client.send(type="private.send", body=body, **fields)
    return fields["client_id"]


async def resume_all(client, after_seq):
    await client.send(type="resume", after_seq=after_seq)
    got = []
    while True:
        event = await client.next()
        if event["type"] in {"presence", "heartbeat"}:
            continue
        got.append(event)
        if event["type"] == "resume.done":
            return got


async def test_her_words_reach_the_hosts_and_their_answer_reaches_her_and_no_other_member():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    jade, _ = await join(room, "member2")
    rose, _ = await join(room, "member")
    rose_id = room.member_id("member")

    client_id = await write(rose)
    mine = await rose.until("private.message")
    assert mine["client_id"] == client_id and mine["thread_member_id"] == rose_id
    assert mine["author"] == {"member_id": rose_id, "display_name": "Rose", "role": "member"}
    assert mine["body"] == WORDS and mine["sent_at"] and isinstance(mine["message_id"], int)
    for host in (fac, mentor):
        assert await host.until("private.message") == mine

    await write(mentor, "I'm here. Take your time.", member_id=rose_id)
    answer = await rose.until("private.message", body="I'm here. Take your time.")
    assert answer["author"]["display_name"] == "Mari" and answer["thread_member_id"] == rose_id
    assert (await fac.until("private.message", body=answer["body"]))["message_id"] == answer[
        "message_id"
    ]

    await jade.drain()
    assert not [e for e in jade.received if e["type"] == "private.message"]
    stored = await database_sync_to_async(raw_bodies)()
    assert len(stored) == 2 and not [b for b in stored if "talk" in b or "here" in b]
    audits = await database_sync_to_async(
        lambda: list(
            AuditEntry.objects.filter(action="private.sent").values_list("extra", flat=True)
        )
    )()
    assert len(audits) == 2 and "talk" not in str(audits)
    for client in (fac, mentor, jade, rose):
        await client.close()


async def test_the_same_client_id_again_stores_one_message():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    client_id = await write(rose)
    first = await rose.until("private.message")

    await write(rose, client_id=client_id)
    again = await rose.until("private.message")

    assert again == first
    assert await database_sync_to_async(count)() == 1
    for client in (fac, rose):
        await client.close()


async def test_every_resume_brings_the_thread_back_after_the_notices_and_before_done():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await write(rose)
    mine = await rose.until("private.message")
    await fac.until("private.message")
    await rose.close()
    await fac.close()

    again, state = await join(room, "member")
    host, host_state = await join(room, "facilitator")
    jade, jade_state = await join(room, "member2")

    replay = await resume_all(again, state["last_seq"])
    host_replay = await resume_all(host, host_state["last_seq"])
    jade_replay = await resume_all(jade, jade_state["last_seq"])
    assert replay == [mine, {"type": "resume.done", "last_seq": state["last_seq"]}]
    assert host_replay[:-1] == [mine]
    assert [e["type"] for e in jade_replay] == ["resume.done"]
    for client in (again, host, jade):
        await client.close()


@pytest.mark.parametrize(
    ("persona", "whose", "code"),
    [
        ("member", "member2", "forbidden"),
        ("facilitator", "outsider", "not_found"),
        ("facilitator", "nobody", "not_found"),
    ],
)
async def test_writing_in_a_thread_she_may_not_is_refused_and_writes_nothing(persona, whose, code):
    room = await amake_room()
    writer, _ = await join(room, persona)
    member_id = {
        "member2": room.member_id("member2"),
        "outsider": room.member_id("outsider"),  # Olga, a member of group B
        "nobody": 2**62,
    }[whose]

    await write(writer, member_id=member_id)
    error = await writer.until("error")

    assert error["code"] == code and error["ref"]
    assert await database_sync_to_async(count)() == 0
    await writer.close()


async def test_a_peer_mentor_who_is_not_hosting_neither_hears_nor_answers_threads():
    room = await amake_room(co_host=False)
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")

    await write(rose)
    await rose.until("private.message")
    await write(mentor, "hello", member_id=room.member_id("member"))

    assert (await mentor.until("error"))["code"] == "forbidden"
    assert not [e for e in mentor.received if e["type"] == "private.message"]
    for client in (mentor, rose):
        await client.close()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "x" * 2001}, "body"),
        ({"body": 5}, "body"),
        ({"client_id": "nope"}, "client_id"),
        ({"client_id": None}, "client_id"),
    ],
)
async def test_bad_input_is_refused_with_the_field_and_writes_nothing(fields, field):
    room = await amake_room()
    rose, _ = await join(room, "member")

    await rose.send(
        type="private.send", **{"body": WORDS, "client_id": str(uuid.uuid4()), **fields}
    )
    error = await rose.until("error")

    assert error["code"] == "invalid" and field in error["fields"]
    assert await database_sync_to_async(count)() == 0
    await rose.close()


async def test_a_facilitators_answer_from_the_group_page_reaches_her_in_the_room():
    room = await amake_room()
    rose, _ = await join(room, "member")
    mentor, _ = await join(room, "peer_mentor")
    world = room.world
    url = f"/api/v1/groups/{world.group_a.pk}/private/{room.member_id('member')}/messages/"

    posted = await database_sync_to_async(
        lambda: world.client("facilitator").post(
            url, {"client_id": str(uuid.uuid4()), "body": "Checking on you"}, format="json"
        )
    )()

    assert posted.status_code == 201
    heard = await rose.until("private.message")
    assert heard["body"] == "Checking on you" and heard["message_id"] == posted.json()["message_id"]
    assert (await mentor.until("private.message"))["message_id"] == heard["message_id"]
    for client in (rose, mentor):
        await client.close()


# --- REST ------------------------------------------------------------------------------------


def test_she_and_the_facilitators_read_her_thread_and_nobody_else_does(world):
    group = world.group_a.pk
    rose = world.members["member"].pk
    mine = f"/api/v1/groups/{group}/private/{rose}/messages/"
    body = {"client_id": str(uuid.uuid4()), "body": WORDS}

    assert world.client("member").post(mine, body, format="json").status_code == 201

    facilitator = world.client("facilitator")
    threads = facilitator.get(f"/api/v1/groups/{group}/private/").json()["results"]
    assert [(t["member_id"], t["display_name"]) for t in threads] == [(rose, "Rose")]
    read = facilitator.get(mine)
    assert [m["body"] for m in read.json()["results"]] == [WORDS]
    assert AuditEntry.objects.filter(action="private.read").count() == 1
    assert world.client("member").get(mine).json()["count"] == 1
    assert AuditEntry.objects.filter(action="private.read").count() == 1
    assert world.client("member2").get(f"/api/v1/groups/{group}/private/").json()["results"] == []
    assert world.client("member2").get(mine).status_code == 404
    assert world.client("member2").post(mine, body, format="json").status_code == 404
    assert world.client("peer_mentor").get(mine).status_code == 404
    assert world.client("outsider").get(mine).status_code == 404
    admin = world.client("admin")
    assert admin.get(mine).status_code == 200
    refused = admin.post(mine, {"client_id": str(uuid.uuid4()), "body": "hi"}, format="json")
    assert refused.status_code == 403
    assert PrivateMessage.objects.count() == 1


def test_taking_her_support_request_opens_her_thread(world):
    group = world.group_a.pk
    url = f"/api/v1/groups/{group}/support/"
    made = (
        world.client("member")
        .post(url, {"kind": "minute", "client_id": str(uuid.uuid4())}, format="json")
        .json()
    )
    assert not PrivateThread.objects.exists()

    world.client("facilitator").post(
        f"{url}{made['request_id']}/status/", {"status": "taken"}, format="json"
    )

    assert PrivateThread.objects.get().membership_id == world.members["member"].pk
