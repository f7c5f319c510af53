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
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)

# Broadcasts received but not yet read by every local recipient; a queue deeper than this only
# costs a second decryption, never a wrong message. Bounded in count, so also in memory (a
# message is at most a few tens of KiB).
DECODED_CACHE_SIZE = 512


class _Shard(RedisSingleShardConnection):
    async def publish(self, channel: str, message: bytes) -> None:
        self._ensure_redis()
        await self._redis.publish(channel, message)


class HavenPubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decoded: dict[bytes, dict[str, Any]] = {}

    def deserialize(self, message: bytes) -> dict[str, Any]:
        decoded = self._decoded.get(message)
        if decoded is None:
            decoded = super().deserialize(message)
            if len(self._decoded) >= DECODED_CACHE_SIZE:
                # Insertion order: drop the oldest entry.
                del self._decoded[next(iter(self._decoded))]
            self._decoded[message] = decoded
        return decoded

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        fresh = loop not in self._layers
        layer = super()._get_layer()
        if fresh:
            # Made just now, before any connection: its shards can still be swapped.
            layer._shards = [_Shard(shard.host, layer) for shard in layer._shards]
        return layer
