"""Haven's channel layer: channels_redis' pub/sub layer, decoding each broadcast once, with
publishes that do not wait for each other.

The pub/sub layer receives one copy of a group message per process and puts the same bytes
in the queue of every local member of the group; each consumer then decrypts and unpacks it
again. Here the first consumer's result is kept for the others (a small bounded cache keyed by
the received bytes), so a broadcast to a room of ten costs one decryption, not ten. Consumers
treat received messages as read-only (`SessionConsumer.haven_forward` forwards the text as it
is), which is what makes sharing the decoded message safe.

channels_redis holds one lock per Redis shard for the whole round trip of every publish, the
same lock its SUBSCRIBE and UNSUBSCRIBE take: every broadcast of the process waited for the
one before it, and every connection joining its groups waited behind all of them. In a
restart storm the room's chat waited seconds behind it (issue 20, docs/performance.md). The lock
guards the pub/sub connection, which a publish does not use (it takes a connection of its
own from the pool), and creating the clients is synchronous, so `_Shard.publish` does not
take it. What one coroutine publishes still goes out in its order (it awaits each);
durable events carry their `seq`, and consumers order them and fill gaps from the log.

One person's groups (`realtime.PERSONAL`: her account's, her membership's, her token's, her
part of a session) and each connection's own channel share one Redis channel per layer prefix
instead of one each. Every room connection has its own channel and joins four such groups;
with a Redis channel each, every entry cost five SUBSCRIBEs and their replies, and every exit
five UNSUBSCRIBEs, in a restart storm thousands of them, and Redis kept a channel for each.
Now a connection costs Redis nothing unless it is the process's first in its room. A message
to one of them is published on the shared channel with its name in front, and each process
hands it to its local connections of that name alone, exactly as a channel of its own would:
a process with nobody of that name drops it. Personal messages (notices, private messages,
closes, rights) are few, so every process seeing them costs little.

Each consumer's queue of received messages is a `LeanQueue` rather than an `asyncio.Queue`
(docs/performance.md, "S4 memory").

A publish takes a pooled connection of its own, so while many are running at once (a room
filling up, a restart storm) the pool opens new ones, up to `PUBLISH_CONNECTIONS`; more wait
for one (`_Shard`). redis-py read its own version from the installed package's metadata for
every new connection (for `CLIENT SETINFO`), about 1 ms each; the shards' pools share one
`DRIVER_INFO`, read once (issue 20).
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from project.realtime import PERSONAL

# Between a personal group's channel name and the message on the shared channel (group names
# never hold it; the message after the first one may).
_SEPARATOR = b"\x00"

# Broadcasts received but not yet read by every local recipient; a queue deeper than this only
# costs a second decryption, never a wrong message. Bounded in count, so also in memory (a
# message is at most a few tens of KiB).
DECODED_CACHE_SIZE = 512

# Publishes of one process running at once, each on a pooled connection of its own; more wait
# for one to come back (`_Shard`). redis-py's pools refuse the 101st connection by default.
PUBLISH_CONNECTIONS = 100
# How long a publish waits for one before it fails (and the room recovers from the log, as when
# Redis is down): far above a round trip through a loop busy with a restart storm (seconds).
PUBLISH_WAIT_SECONDS = 10.0

# What every connection of the layer's pools tells Redis it is (`CLIENT SETINFO`): redis-py's
# own default, read from the package's metadata once per process instead of once per connection.
DRIVER_INFO = DriverInfo()


class LeanQueue:
    """An unbounded FIFO queue with `asyncio.Queue`'s `put_nowait`, `get`, `qsize` and
    `empty`, which is all that Daphne (one queue per connection, its input) and the pub/sub
    layer (one per consumer, what it receives) use of it.

    An `asyncio.Queue` allocates four deques up front (its items, its getters, its putters
    and its `join` event's waiters), 3 KiB on every idle connection; this one holds nothing
    while it is empty and nobody waits. Getters waiting on an empty queue are all woken by
    the next item and the first to run takes it; the others wait again.
    """

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: collections.deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                # Cancelled, or woken: either way this waiter is done with.
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class PublishTimeout(RedisError):
    """No publishing connection came free within `PUBLISH_WAIT_SECONDS`."""


class _Shard(RedisSingleShardConnection):
    """One Redis server of the layer, for one event loop.

    Publishes do not take channels_redis' lock, so each running at once holds a pooled
    connection of its own. redis-py's pool refuses a 101st with `MaxConnectionsError`, and a
    broadcast refused that way was dropped: in a restart storm hundreds were (the presence of
    members arriving, chat that members then waited for until their next heartbeat's resume;
    issue 20, docs/performance.md). A publish now waits for one of `PUBLISH_CONNECTIONS`
    instead, for at most `PUBLISH_WAIT_SECONDS`; the pool keeps one more for the
    subscriptions.
    """

    channel_layer: HavenPubSubLoopLayer

    def __init__(self, host: dict[str, Any], channel_layer: HavenPubSubLoopLayer) -> None:
        size = host.get("max_connections") or PUBLISH_CONNECTIONS + 1
        super().__init__({**host, "max_connections": size}, channel_layer)
        self._publishing = asyncio.Semaphore(max(1, size - 1))

    async def publish(self, channel: str, message: bytes) -> None:
        self._ensure_redis()
        if self._publishing.locked():
            try:
                async with asyncio.timeout(PUBLISH_WAIT_SECONDS):
                    await self._publishing.acquire()
            except TimeoutError:
                # Every connection is stuck (Redis not answering): fail as a refused
                # connection did, so that the caller goes on and the room recovers from the log.
                raise PublishTimeout(
                    f"no publishing connection within {PUBLISH_WAIT_SECONDS} s"
                ) from None
        else:
            await self._publishing.acquire()  # one is free: no wait, so no timer either
        try:
            await self._publish(channel, message)
        finally:
            self._publishing.release()

    async def _publish(self, channel: str, message: bytes) -> None:
        """PUBLISH on a pooled connection, without redis-py's command machinery around it
        (its retry wrapper, response callbacks and per-command telemetry were a third of a
        publish's cost while a fleet opened, issue 20). A connection Redis dropped is
        disconnected and the publish sent once more on a new socket: after a Redis restart
        every idle connection in the pool is dead, and redis-py 8.1, retrying nothing by
        default, failed the broadcast. Any other failure (cancelled halfway, an error reply)
        disconnects it too: it is never reused mid-reply."""
        assert self._redis is not None
        pool = self._redis.connection_pool
        connection = await pool.get_connection()
        try:
            for attempt in (1, 2):
                try:
                    await connection.send_command("PUBLISH", channel, message)
                    await connection.read_response()
                    return
                except (RedisConnectionError, RedisTimeoutError):
                    await connection.disconnect()
                    if attempt == 2:
                        raise
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    def _receive_message(self, message: dict[str, Any] | None) -> None:
        if message is not None:
            name = message["channel"]
            if isinstance(name, bytes):
                name = name.decode()
            if name == self.channel_layer.personal_channel:
                group, _sep, data = message["data"].partition(_SEPARATOR)
                message = {"channel": group.decode(), "data": data}
        super()._receive_message(message)


class HavenPubSubLoopLayer(RedisPubSubLoopLayer):
    """channels_redis' layer for one event loop: `_Shard`s, its personal groups and specific
    channels on one shared channel, and a `LeanQueue` per consumer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [
            _Shard({"driver_info": DRIVER_INFO, **shard.host}, self) for shard in self._shards
        ]
        self.personal_channel = f"{self.prefix}__personal__"
        self._specific = f"{self.prefix}specific."

    def _personal(self, channel: str) -> bool:
        """Is `channel` one connection's own (`new_channel`), carried on the shared channel?"""
        return channel.startswith(self._specific)

    async def _shared(self) -> None:
        # Once per process (the shard remembers), again after Redis forgot it (a restart).
        shard = self._get_shard(self.personal_channel)
        if self.personal_channel in shard._subscribed_to:
            # What `subscribe` finds under its lock, without taking it: every connection's
            # entry asks four times (issue 20).
            return
        await shard.subscribe(self.personal_channel)

    async def _publish_shared(self, name: str, message: dict[str, Any]) -> None:
        data = name.encode() + _SEPARATOR + self.channel_layer.serialize(message)
        await self._get_shard(self.personal_channel).publish(self.personal_channel, data)

    async def _subscribe_to_channel(self, channel: str) -> None:
        # As channels_redis 4.3 does it, with a LeanQueue for its asyncio.Queue.
        self.channels[channel] = LeanQueue()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        if not channel.startswith(self._specific):
            return await super().new_channel(prefix)
        self.channels[channel] = LeanQueue()
        await self._shared()
        return channel

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if not self._personal(channel):
            await super().send(channel, message)
            return
        await self._publish_shared(channel, message)

    async def group_add(self, group: str, channel: str) -> None:
        if not group.startswith(PERSONAL):
            await super().group_add(group, channel)
            return
        if channel not in self.channels:
            raise RuntimeError("You can only call group_add() on channels that exist in-process.")
        self.groups.setdefault(self._get_group_channel_name(group), set()).add(channel)
        await self._shared()

    async def group_discard(self, group: str, channel: str) -> None:
        if not group.startswith(PERSONAL):
            await super().group_discard(group, channel)
            return
        name = self._get_group_channel_name(group)
        members = self.groups.get(name)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[name]

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if not group.startswith(PERSONAL):
            await super().group_send(group, message)
            return
        await self._publish_shared(self._get_group_channel_name(group), message)


class HavenPubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decoded: dict[bytes, dict[str, Any]] = {}

    def _get_layer(self) -> HavenPubSubLoopLayer:
        # As channels_redis 4.3 does it, with HavenPubSubLoopLayer for RedisPubSubLoopLayer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = HavenPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer

    def deserialize(self, message: bytes) -> dict[str, Any]:
        decoded = self._decoded.get(message)
        if decoded is None:
            decoded = super().deserialize(message)
            if len(self._decoded) >= DECODED_CACHE_SIZE:
                # Insertion order: drop the oldest entry.
                del self._decoded[next(iter(self._decoded))]
            self._decoded[message] = decoded
        return decoded
