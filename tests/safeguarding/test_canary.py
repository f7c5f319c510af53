"""The canary sweep (security catalogue test 30): a unique CANARY string written through every
sensitive path must never show up in the logs, the audit log, any plain column of the database
or, with Redis as the channel layer, anywhere in Redis.

Runs on both database backends; the Redis part runs when REDIS_URL is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.apps import apps
from django.db import connection

from facilitation import events
from facilitation import services as session_services
from facilitation.models import Message, Participant
from project import realtime
from project.models import AuditEntry
from safeguarding.models import Concern, ConcernReply, ConcernStatusChange
from tests.conftest import World
from tests.facilitation.room import Client, Room, amake_room, join
from tests.safeguarding import (
    enter,
    live_room,
    move,
    post_message,
    raise_concern,
    reply,
)

TEXT_TYPES = ("char", "text", "json")
REDIS_URL = os.environ.get("REDIS_URL", "").strip()


@dataclass
class Sweep:
    """Where a sweep looked, and where it found the canary."""

    looked: dict[str, int] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)


def sweep_database(canary: str) -> Sweep:
    """Read every text, varchar and JSON column of every table raw, past the ORM."""
    sweep = Sweep()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            opts = model._meta
            if opts.proxy or not opts.managed:
                continue
            for column in opts.local_concrete_fields:
                db_type = (column.db_type(connection) or "").lower()
                if not any(kind in db_type for kind in TEXT_TYPES):
                    continue
                cursor.execute(f"SELECT {quote(column.column)} FROM {quote(opts.db_table)}")
                values = [row[0] for row in cursor.fetchall()]
                where = f"{opts.db_table}.{column.column}"
                sweep.looked[where] = len(values)
                for value in values:
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    if canary in text:
                        sweep.found.append(where)
    return sweep


def sweep_redis(url: str, canary: str, sink: str) -> Sweep:
    """Every key and value in Redis, read by its type (and its DUMP), bytes decoded loosely."""
    import redis

    client = redis.Redis.from_url(url)
    sweep = Sweep()
    needle = canary.encode()
    try:
        for key in client.scan_iter(count=500):
            kind = client.type(key).decode()
            values: list[bytes] = [key]
            if kind == "string":
                values.append(client.get(key) or b"")
            elif kind == "list":
                values += client.lrange(key, 0, -1)
            elif kind == "zset":
                values += client.zrange(key, 0, -1)
            elif kind == "set":
                values += list(client.smembers(key))
            elif kind == "hash":
                for name, value in client.hgetall(key).items():
                    values += [name, value]
            elif kind == "stream":
                for _id, entry in client.xrange(key):
                    for name, value in entry.items():
                        values += [name, value]
            values.append(client.dump(key) or b"")
            name = key.decode(errors="ignore")
            if sink in name:
                sweep.looked[name] = client.zcard(key) if kind == "zset" else len(values)
            for value in values:
                if needle in value or canary in value.decode(errors="ignore"):
                    sweep.found.append(name)
    finally:
        client.close()
    return sweep


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for every logger, including those that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    manager = logging.root.manager
    attached: list[logging.Logger] = []
    for name, logger in list(manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


def sink_groups(room: Room) -> list[str]:
    session_id = room.session.pk
    return [
        events.session_group(session_id),
        events.hosts_group(session_id),
        *(events.participant_group(session_id, room.member_id(p)) for p in ("member", "member2")),
        *(realtime.member_group(room.member_id(p)) for p in ("member", "facilitator")),
    ]


class Sniffer:
    """With the pub/sub layer nothing rests in Redis: a raw subscriber to every channel
    records what the layer publishes, so the sweep can look at exactly that."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.payloads: list[bytes] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.psubscribe("*")
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.pubsub.listen():
            if message.get("type") == "pmessage":
                self.payloads.append(bytes(message["data"]))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.pubsub.aclose()
        await self.client.aclose()


def layer_is_pubsub() -> bool:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return isinstance(get_channel_layer(), RedisPubSubChannelLayer)


@pytest.fixture
async def room_with_sink() -> AsyncIterator[tuple[Room, Any, list[Client]]]:
    """A live room. With the Redis core layer, a channel that joins the room's groups and
    never reads, so whatever the layer carries stays in Redis for the sweep; with the pub/sub
    layer, a raw subscriber that records everything published."""
    room = await amake_room()
    layer = get_channel_layer()
    sink: Any = None
    if REDIS_URL and layer_is_pubsub():
        sink = Sniffer(REDIS_URL)
        await sink.start()
    elif REDIS_URL:
        sink = f"canarysink.{uuid.uuid4().hex}"
        for group in sink_groups(room):
            await layer.group_add(group, sink)
    clients: list[Client] = []
    yield room, sink, clients
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
    if isinstance(sink, Sniffer):
        await sink.stop()
    elif sink:
        for group in sink_groups(room):
            await layer.group_discard(group, sink)


async def assert_canary_nowhere(canary: str, caplog: Any, sink: str | None) -> None:
    if isinstance(sink, Sniffer):
        await asyncio.sleep(0.2)
        # The sniffer saw what the layer carried (else this sweep would prove nothing).
        assert len(sink.payloads) > 0
        for payload in sink.payloads:
            assert canary.encode() not in payload
        in_redis = await asyncio.to_thread(sweep_redis, REDIS_URL, canary, "-no-sink-")
        assert in_redis.found == []
    elif sink:
        in_redis = await asyncio.to_thread(sweep_redis, REDIS_URL, canary, sink)
        # The sink holds what the layer carried (else this sweep would prove nothing).
        assert sum(in_redis.looked.values()) > 0, in_redis.looked
        assert in_redis.found == []

    # The capture works: refusals are logged (without their text).
    assert any(r.name == "django.request" and r.levelno >= logging.WARNING for r in caplog.records)
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in record.getMessage()
        assert canary not in repr(record.args)

    audit = await database_sync_to_async(lambda: list(AuditEntry.objects.all()))()
    assert audit
    for entry in audit:
        assert canary not in json.dumps(
            [entry.action, entry.target_type, entry.target_id, entry.extra], default=str
        )

    in_database = await database_sync_to_async(sweep_database)(canary)
    for where in (
        "facilitation_message.body",
        "facilitation_sessionevent.payload",
        "project_auditentry.extra",
    ):
        assert in_database.looked.get(where, 0) > 0, where
    assert in_database.found == []


async def refused_with(world: World, canary: str) -> None:
    """A concern with a bad field: the server refuses it, and logs the refusal."""
    refused = await database_sync_to_async(world.client("member").post)(
        "/api/v1/concerns/",
        {"group_id": world.group_a.pk, "category": "gossip", "body": f"{canary} refused"},
        format="json",
    )
    assert refused.status_code == 400


def assert_path_wrote(canary: str, ids: dict[str, Any]) -> None:
    """The canary really went in through each path (so finding it nowhere means something)."""
    said = Message.objects.get(pk=ids["message"])
    assert canary in said.body
    assert canary in said.cw_note
    removed = Participant.objects.get(session_id=ids["session"], membership_id=ids["jade"])
    assert canary in removed.mute_reason
    assert canary in removed.remove_reason
    assert canary in Concern.objects.get(pk=ids["concern"]).body
    replies = ConcernReply.objects.filter(concern_id=ids["concern"])
    assert all(canary in r.body for r in replies) and replies.count() == 2
    [change] = ConcernStatusChange.objects.filter(concern_id=ids["concern"])
    assert canary in change.note_to_reporter


@pytest.mark.django_db(transaction=True)
async def test_a_canary_sent_through_every_sensitive_path_is_in_no_log_audit_row_column_or_key(
    every_log, room_with_sink
):
    room, sink, clients = room_with_sink
    canary = f"CANARY-{uuid.uuid4()}"
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    jade, _ = await join(room, "member2")
    clients += [fac, rose, jade]

    # A message with a content-warning note, over the WebSocket.
    await rose.say(
        f"{canary} body",
        content_warning={"category": "physical_violence", "note": f"{canary} cw"},
    )
    ack = await rose.until("ack")
    assert canary in (await jade.until("message", message_id=ack["message_id"]))["body"]
    # A private "I need support" with a note.
    await rose.send(type="support.request", note=f"{canary} support")
    assert canary in (await fac.until("support.requested"))["note"]
    # A mute and a removal, each with a reason.
    jade_id = room.member_id("member2")
    await fac.send(type="member.mute", member_id=jade_id, minutes=5, reason=f"{canary} mute")
    assert canary in (await jade.until("notice", code="muted"))["message"]
    await fac.send(type="member.remove", member_id=jade_id, reason=f"{canary} remove")
    assert canary in (await jade.until("notice", code="removed"))["message"]
    assert await jade.closed_with() == 4403
    # A concern, its thread both ways and a note to the reporter, over REST.
    world = room.world
    concern_id = await database_sync_to_async(raise_concern)(
        world, body=f"{canary} concern", message_ids=[ack["message_id"]]
    )
    await fac.until("concern.raised", concern_id=concern_id)
    for persona in ("member", "facilitator"):
        answer = await database_sync_to_async(reply)(world, persona, concern_id, f"{canary} reply")
        assert answer.status_code == 201
    moved = await database_sync_to_async(move)(
        world, "facilitator", concern_id, "acknowledged", f"{canary} note"
    )
    assert moved.status_code == 200
    await rose.until("concern.updated", status="acknowledged")
    # Refusals, which the server logs: a bad concern, a reply she may not write.
    await refused_with(world, canary)
    not_hers = await database_sync_to_async(reply)(
        world, "member2", concern_id, f"{canary} not hers"
    )
    assert not_hers.status_code == 404

    ids = {
        "message": ack["message_id"],
        "session": room.session.pk,
        "jade": jade_id,
        "concern": concern_id,
    }
    await database_sync_to_async(assert_path_wrote)(canary, ids)
    await assert_canary_nowhere(canary, every_log, sink)


@pytest.mark.django_db(transaction=True)
async def test_a_canary_in_a_hide_reason_is_in_no_log_audit_row_column_or_key(
    every_log, room_with_sink
):
    room, sink, clients = room_with_sink
    canary = f"CANARY-{uuid.uuid4()}"
    fac, _ = await join(room, "facilitator")
    jade, _ = await join(room, "member2")
    clients += [fac, jade]
    await jade.say("something a host will hide")
    said = await jade.until("ack")
    await fac.send(type="message.hide", message_id=said["message_id"], reason=f"{canary} hide")
    answer = await fac.until_any({"message.hidden", "error"})
    assert answer["type"] == "message.hidden", answer
    assert canary in (await jade.until("notice", code="message_hidden"))["message"]
    await refused_with(room.world, canary)
    stored = await database_sync_to_async(Message.objects.get)(pk=said["message_id"])
    assert canary in stored.hide_reason
    await assert_canary_nowhere(canary, every_log, sink)


@pytest.mark.django_db
def test_a_warning_note_a_host_adds_later_is_not_kept_in_plain_text(world):
    canary = f"CANARY-{uuid.uuid4()}"
    room = live_room(world)
    message = post_message(room, "member2", "my ex came round again")
    session_services.message_set_warning(
        actor=world.users["facilitator"],
        context=enter(room, "facilitator"),
        message_id=message.pk,
        content_warning={"category": "physical_violence", "note": f"{canary} warning"},
    )
    message.refresh_from_db()
    assert canary in message.cw_note
    assert sweep_database(canary).found == []
