"""Haven's channel layer: channels_redis' pub/sub layer, decoding each broadcast once.

The pub/sub layer receives one copy of a group message per process and puts the same bytes
in the queue of every local member of the group; each consumer then decrypts and unpacks it
again. Here the first consumer's result is kept for the others (a small bounded cache keyed by
the received bytes), so a broadcast to a room of ten costs one decryption, not ten. Consumers
treat received messages as read-only (`SessionConsumer.haven_forward` forwards the text as it
is), which is what makes sharing the decoded message safe.
"""

from __future__ import annotations

from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

# Broadcasts received but not yet read by every local recipient; a queue deeper than this only
# costs a second decryption, never a wrong message. Bounded in count, so also in memory (a
# message is at most a few tens of KiB).
DECODED_CACHE_SIZE = 512


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
