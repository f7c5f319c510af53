"""Haven's channel layer (project/layers.py) and the loop-side publishing of `run_in_db`."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from cryptography.fernet import Fernet
from django.db import transaction

from project import layers, realtime
from project.layers import HavenPubSubChannelLayer

REDIS_URL = os.environ.get("REDIS_URL", "").strip()


def a_layer() -> HavenPubSubChannelLayer:
    return HavenPubSubChannelLayer(
        hosts=[REDIS_URL or "redis://127.0.0.1:6379/0"],
        prefix=f"t{uuid.uuid4().hex[:8]}",
        symmetric_encryption_keys=[Fernet.generate_key().decode()],
    )


async def a_listening_layer(group: str) -> tuple[HavenPubSubChannelLayer, str, Any]:
    """(layer, channel, shard): a fresh layer with one channel in `group`, and the Redis shard
    that carries the group."""
    layer = a_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    loop_layer = layer._get_layer()
    return layer, channel, loop_layer._get_shard(loop_layer._get_group_channel_name(group))


def test_a_message_decodes_to_what_was_serialised():
    layer = a_layer()
    message = {"type": "haven.forward", "text": '{"type":"message"}', "seq": 7}

    assert layer.deserialize(layer.serialize(message)) == message


def test_the_decoded_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(layers, "DECODED_CACHE_SIZE", 4)
    layer = a_layer()
    blobs = [layer.serialize({"type": "haven.forward", "seq": n}) for n in range(10)]

    decoded = [layer.deserialize(blob) for blob in blobs]

    assert [m["seq"] for m in decoded] == list(range(10))
    assert len(layer._decoded) == 4
    assert list(layer._decoded) == blobs[-4:]


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_a_broadcast_to_three_local_channels_is_decrypted_once():
    layer = a_layer()
    group = "session.1"
    channels = [await layer.new_channel() for _ in range(3)]
    for name in channels:
        await layer.group_add(group, name)
    message = {"type": "haven.forward", "text": "{}", "seq": 1}

    await layer.group_send(group, message)
    received = [await asyncio.wait_for(layer.receive(name), 5) for name in channels]

    assert received[0] == message
    # One decoded object shared by every recipient: decrypted and unpacked once.
    assert received[1] is received[0] and received[2] is received[0]
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_a_publish_does_not_wait_for_the_subscribe_lock():
    """Issue 20: channels_redis held its shard's one lock for a publish's whole round trip, so
    every broadcast of a process queued behind the one before and every joining connection
    behind them. Here a publish goes out while the lock is held, and messages one coroutine
    publishes arrive in its order."""
    layer, channel, shard = await a_listening_layer(group := "session.2")

    async with shard._lock:
        for n in range(5):
            await asyncio.wait_for(layer.group_send(group, {"type": "haven.forward", "seq": n}), 5)
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(5)]

    assert [m["seq"] for m in received] == list(range(5))
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_publishes_running_at_once_open_connections_that_read_the_version_once(monkeypatch):
    """Issue 20: each publish running at once takes a pooled connection of its own, and
    redis-py read its version from the package's metadata for every new one (about 1 ms each,
    dozens while a fleet opens). The pools share `layers.DRIVER_INFO`: no metadata is read,
    and each connection still tells Redis what it is (`CLIENT SETINFO`, Redis 7.2 and later)."""
    from importlib import metadata

    reads: list[str] = []
    version = metadata.version

    def counted(name: str) -> str:
        reads.append(name)
        return version(name)

    monkeypatch.setattr(metadata, "version", counted)
    layer, channel, shard = await a_listening_layer(group := "session.3")

    await asyncio.gather(
        *(layer.group_send(group, {"type": "haven.forward", "seq": n}) for n in range(8))
    )
    received = {(await asyncio.wait_for(layer.receive(channel), 5))["seq"] for _ in range(8)}

    assert received == set(range(8))
    pool = shard._redis.connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) >= 2
    assert reads == []
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert all(c.driver_info is layers.DRIVER_INFO for c in connections)
    assert layers.DRIVER_INFO.lib_version == version("redis")
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_more_publishes_at_once_than_the_pool_holds_wait_and_all_arrive():
    """Issue 20: redis-py's pool refuses its 101st connection, and publishes running at once
    each hold one, so in a restart storm hundreds of broadcasts were refused and dropped. A
    publish now waits for a connection: every broadcast arrives, once, and the pool stays
    within `PUBLISH_CONNECTIONS` and the subscriptions' own."""
    layer, channel, shard = await a_listening_layer(group := "session.4")
    count = layers.PUBLISH_CONNECTIONS * 2 + 50

    await asyncio.gather(
        *(layer.group_send(group, {"type": "haven.forward", "seq": n}) for n in range(count))
    )
    received = [(await asyncio.wait_for(layer.receive(channel), 5))["seq"] for _ in range(count)]

    assert sorted(received) == list(range(count))
    pool = shard._redis.connection_pool
    opened = len(pool._available_connections) + len(pool._in_use_connections)
    assert layers.PUBLISH_CONNECTIONS <= opened <= layers.PUBLISH_CONNECTIONS + 1
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_a_publish_that_finds_every_connection_stuck_fails_after_its_wait(monkeypatch):
    """Issue 20: a publish waits for a connection only so long. With every connection held
    (publishes that Redis never answers), the next fails after `PUBLISH_WAIT_SECONDS`, as a
    refused one did, so the caller goes on and the room recovers from the log; once one
    comes back, publishing works again."""
    monkeypatch.setattr(layers, "PUBLISH_WAIT_SECONDS", 0.2)
    layer, channel, shard = await a_listening_layer(group := "session.5")
    for _ in range(layers.PUBLISH_CONNECTIONS):
        await shard._publishing.acquire()

    with pytest.raises(layers.PublishTimeout):
        await asyncio.wait_for(layer.group_send(group, {"type": "haven.forward", "seq": 1}), 5)
    shard._publishing.release()
    await layer.group_send(group, {"type": "haven.forward", "seq": 2})

    assert (await asyncio.wait_for(layer.receive(channel), 5))["seq"] == 2
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_a_publish_on_a_connection_redis_has_dropped_goes_out_on_a_new_one():
    """A publish runs PUBLISH on a pooled connection itself (issue 20), so it must do what
    redis-py's retry did: after a Redis restart every idle connection of the pool is dead,
    and the next broadcast on each must still arrive, once. Here Redis drops every idle
    publishing connection (`CLIENT KILL`) between two broadcasts."""
    import redis.asyncio as aioredis

    layer, channel, shard = await a_listening_layer(group := "session.6")
    await layer.group_send(group, {"type": "haven.forward", "seq": 1})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["seq"] == 1
    pool = shard._redis.connection_pool
    idle, subscribing = list(pool._available_connections), set(pool._in_use_connections)
    assert idle
    ids = []
    for connection in idle:
        await connection.send_command("CLIENT", "ID")
        ids.append(await connection.read_response())
    admin = aioredis.from_url(REDIS_URL)
    for client_id in ids:
        assert await admin.execute_command("CLIENT", "KILL", "ID", client_id) == 1
    await admin.aclose()

    await layer.group_send(group, {"type": "haven.forward", "seq": 2})

    assert (await asyncio.wait_for(layer.receive(channel), 5))["seq"] == 2
    assert pool._in_use_connections == subscribing
    await layer.group_send(group, {"type": "haven.forward", "seq": 3})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["seq"] == 3
    await layer.flush()


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_personal_groups_share_one_redis_channel_and_reach_only_their_members():
    """Issue 20: one person's groups (`realtime.PERSONAL`) ride one Redis channel per prefix;
    a message to one reaches that group's connections on every process, and nobody else."""
    import redis.asyncio as aioredis

    sender, receiver = a_layer(), a_layer()
    receiver._kwargs["prefix"] = sender._kwargs["prefix"]  # two processes, one deployment
    receiver._serializer = sender._serializer
    hers, other, roomy = [await receiver.new_channel() for _ in range(3)]
    await receiver.group_add(realtime.user_group(1), hers)
    await receiver.group_add(realtime.member_group(7), hers)
    await receiver.group_add(realtime.user_group(2), other)
    await receiver.group_add("session.3", roomy)
    client = aioredis.from_url(REDIS_URL)
    prefix = sender._kwargs["prefix"]
    subscribed = [c.decode() for c in await client.pubsub_channels(f"{prefix}*")]
    # One channel for every connection's own channel and every personal group, one for the room.
    assert sorted(subscribed) == sorted([f"{prefix}__personal__", f"{prefix}__group__session.3"])

    await sender.group_send(realtime.member_group(7), {"type": "haven.close", "code": 4401})
    got = await asyncio.wait_for(receiver.receive(hers), 5)
    assert got == {"type": "haven.close", "code": 4401}
    await sender.group_send(realtime.user_group(2), {"type": "haven.rights"})
    assert await asyncio.wait_for(receiver.receive(other), 5) == {"type": "haven.rights"}
    # Nothing reached anyone else: the next message each holds is the one sent to it now.
    await receiver.group_discard(realtime.user_group(1), hers)
    await sender.group_send(realtime.user_group(1), {"type": "haven.rights", "n": 1})
    await sender.group_send(realtime.member_group(7), {"type": "haven.rights", "n": 2})
    await sender.group_send("session.3", {"type": "haven.rights", "n": 3})
    assert (await asyncio.wait_for(receiver.receive(hers), 5))["n"] == 2
    assert (await asyncio.wait_for(receiver.receive(roomy), 5))["n"] == 3
    await sender.group_send(realtime.user_group(2), {"type": "haven.rights", "n": 4})
    assert (await asyncio.wait_for(receiver.receive(other), 5))["n"] == 4
    # A connection's own channel reaches it, from another process too.
    await sender.send(other, {"type": "haven.rights", "n": 5})
    assert (await asyncio.wait_for(receiver.receive(other), 5))["n"] == 5
    await client.aclose()
    await sender.flush()
    await receiver.flush()


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Any, str, str]]:
    """(layer, group, channel): a channel of the project's layer listening to a fresh group."""
    layer = get_channel_layer()
    group = f"test.{uuid.uuid4().hex}"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    yield layer, group, channel
    await layer.group_discard(group, channel)


def _commit_broadcasts(group: str, *, fail_after: bool = False) -> str:
    with transaction.atomic():
        realtime.broadcast_on_commit(group, {"type": "notice", "n": 1})
    with transaction.atomic():
        realtime.broadcast_on_commit(group, {"type": "notice", "n": 2})
        if fail_after:
            raise ValueError("rolled back")
    return "done"


@pytest.mark.django_db(transaction=True)
async def test_run_in_db_publishes_what_committed_in_order_after_the_call(listener):
    layer, group, channel = listener

    result = await realtime.run_in_db(_commit_broadcasts, group=group)

    assert result == "done"
    first = await asyncio.wait_for(layer.receive(channel), 5)
    second = await asyncio.wait_for(layer.receive(channel), 5)
    assert [first["text"], second["text"]] == ['{"type":"notice","n":1}', '{"type":"notice","n":2}']


@pytest.mark.django_db(transaction=True)
async def test_run_in_db_publishes_only_what_committed_when_the_call_fails(listener):
    layer, group, channel = listener

    with pytest.raises(ValueError):
        await realtime.run_in_db(_commit_broadcasts, group=group, fail_after=True)

    first = await asyncio.wait_for(layer.receive(channel), 5)
    assert first["text"] == '{"type":"notice","n":1}'
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)


async def test_a_lean_queue_hands_out_items_in_order_and_holds_nothing_when_empty():
    queue = layers.LeanQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()

    for item in ("a", "b", "c"):
        queue.put_nowait(item)

    assert await asyncio.wait_for(waiting, 1) == "a"
    assert queue.qsize() == 2 and not queue.empty()
    assert [await queue.get(), await queue.get()] == ["b", "c"]
    assert queue.empty() and queue.qsize() == 0
    assert queue._items is None and queue._waiters is None


async def test_a_cancelled_get_leaves_the_item_for_the_next_and_two_getters_get_one_each():
    queue = layers.LeanQueue()
    cancelled = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert queue._waiters == []

    getters = [asyncio.ensure_future(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)

    assert sorted(await asyncio.wait_for(asyncio.gather(*getters), 1)) == [1, 2]


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
async def test_each_consumer_of_the_layer_gets_a_lean_queue():
    layer = a_layer()
    name = await layer.new_channel()

    assert isinstance(layer._get_layer().channels[name], layers.LeanQueue)
    await layer.send(name, {"type": "haven.forward", "text": "{}"})
    assert (await asyncio.wait_for(layer.receive(name), 5))["text"] == "{}"
