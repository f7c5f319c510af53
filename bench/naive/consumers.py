"""The tutorial chat consumer, speaking the benchmark's minimal message shape."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Per-group counter in this process: the benchmark's loss and duplicate check. It starts where
# no earlier or other process of the run can be (the start second and the pid, above 2**16
# messages per group), so a restarted process (S7) or a second one (S7b) never hands out a seq
# the clients already have, and stays below 2**53 (exact in JSON).
SEQ_START = (int(time.time()) * 64 + os.getpid() % 64) << 16
counters: defaultdict[str, int] = defaultdict(lambda: SEQ_START)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.room_group_name = f"chat_{self.scope['url_route']['kwargs']['room_name']}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()
        await self.send_json({"type": "session.state", "last_seq": counters[self.room_group_name]})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "message.send":
            counters[self.room_group_name] += 1
            seq = counters[self.room_group_name]
            client_id = content.get("client_id")
            await self.send_json({"type": "ack", "client_id": client_id, "seq": seq})
            await self.channel_layer.group_send(
                self.room_group_name,
                {
                    "type": "chat.message",
                    "seq": seq,
                    "client_id": client_id,
                    "body": content.get("body"),
                },
            )
        elif kind == "resume":
            await self.send_json(
                {"type": "resume.done", "last_seq": counters[self.room_group_name]}
            )
        else:
            await self.send_json({"type": "error", "code": "unknown_type"})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "message",
                "seq": event["seq"],
                "client_id": event["client_id"],
                "body": event["body"],
            }
        )
