"""The live room's WebSocket edge: authenticate, dispatch `type` to services, forward events."""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from project import realtime

CLOSE_NOT_SIGNED_IN = 4401


class SessionConsumer(AsyncWebsocketConsumer):
    """One member's connection to one session's room."""

    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        # A close code only reaches the client after the handshake, so accept first.
        await self.accept()
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        self.joined = [realtime.user_group(user.pk)]
        token_id = self.scope.get("haven_token_id")
        if token_id is not None:
            self.joined.append(realtime.token_group(token_id))
        for name in self.joined:
            await self.channel_layer.group_add(name, self.channel_name)

    async def disconnect(self, code: int) -> None:
        for name in getattr(self, "joined", []):
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(
            text_data=json.dumps(
                {"type": "error", "code": "not_live", "message": "The room is not ready yet."}
            )
        )

    async def haven_forward(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])

    async def haven_close(self, message: dict[str, Any]) -> None:
        await self.close(code=message["code"])
