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
restart storm that lock, not the CPU, set the pace (issue 20, docs/performance.md). The lock
guards the pub/sub connection, which a publish does not use (it takes a connection of its
own from the pool), and creating the clients is synchronous, so `_Shard.publish` does not
take it. What one coroutine publishes still goes out in its order (it awaits each);
durable events carry their `seq`, and consumers order them and fill gaps from the log.

Each consumer's queue of received messages is a `LeanQueue` rather than an `asyncio.Queue`
(docs/performance.md, "S4 memory").
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

# Broadcasts received but not yet read by every local recipient; a queue deeper than this only
# costs a second decryption, never a wrong message. Bounded in count, so also in memory (a
# message is at most a few tens of KiB).
DECODED_CACHE_SIZE = 512


class _Shard(RedisSingleShardConnection):
    async def publish(self, channel: str, message: bytes) -> None:
        self._ensure_redis()
        await self._redis.publish(channel, message)


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


class HavenPubSubLoopLayer(RedisPubSubLoopLayer):
    """channels_redis' per-event-loop layer, with `_Shard`s and a `LeanQueue` per consumer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made just now, before any connection: its shards can still be swapped.
        self._shards = [_Shard(shard.host, self) for shard in self._shards]

    async def _subscribe_to_channel(self, channel: str) -> None:
        # As channels_redis 4.3 does it, with a LeanQueue for its asyncio.Queue.
        self.channels[channel] = LeanQueue()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


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
