"""An ASGI application for tests/project/test_serve.py: it accepts a WebSocket only after
SLOW_ACCEPT_SECONDS, as Haven's room does when a restart storm queues every member's entry."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

SLOW_ACCEPT_SECONDS = 7.0


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        return
    if scope["type"] != "websocket":
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await asyncio.sleep(SLOW_ACCEPT_SECONDS)
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "accepted"})
    while (await receive())["type"] != "websocket.disconnect":
        pass
