"""Helpers for live-room tests: a room with everyone ready, and a WebSocket client through the
full `project.asgi.application` (Origin check and auth middleware included)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import Session
from groups import services as group_services
from project.asgi import application
from tests.conftest import World, build_world

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


@dataclass
class Room:
    world: World
    session: Session

    def member_id(self, persona: str) -> int:
        return self.world.members[persona].pk


def make_room(*, status: str = "live", world: World | None = None, co_host: bool = True) -> Room:
    """Group A with a published agreement everyone accepted, and a session in `status`."""
    world = world or build_world()
    facilitator = world.users["facilitator"]
    group = world.group_a
    agreement = group_services.agreement_publish(
        actor=facilitator, group=group, points=["Be kind", "What is said here stays here"]
    )
    for persona in ("peer_mentor", "member", "member2"):
        group_services.agreement_accept(
            actor=world.users[persona], group=group, version=agreement.version
        )
    now = timezone.now()
    session = session_services.session_create(
        actor=facilitator,
        group=group,
        title="Evening circle",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        kind="drop_in",
        co_hosts=[world.members["peer_mentor"].pk] if co_host else [],
    )
    path = {"scheduled": [], "open": ["open"], "live": ["open", "live"]}
    path["paused"] = [*path["live"], "paused"]
    path["ended"] = [*path["live"], "ended"]
    for step in path[status]:
        session = session_services.session_set_status(
            actor=facilitator, session=session, status=step
        )
    return Room(world=world, session=session)


async def amake_room(**kwargs: Any) -> Room:
    return await database_sync_to_async(make_room)(**kwargs)


class Client:
    """A WebSocket client that remembers every event it received."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator
        self.received: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def send(self, **content: Any) -> None:
        await self.comm.send_json_to(content)

    async def say(
        self, body: str, *, content_warning: Any = None, client_id: str | None = None
    ) -> str:
        client_id = client_id or str(uuid.uuid4())
        await self.send(
            type="message.send", client_id=client_id, body=body, content_warning=content_warning
        )
        return client_id

    async def next(self, timeout: float = 3) -> dict[str, Any]:
        output = await self.comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code")
            raise ConnectionClosed(self.close_code)
        event = json.loads(output["text"])
        self.received.append(event)
        return event

    async def until(self, kind: str, timeout: float = 3, **match: Any) -> dict[str, Any]:
        """Read events until one of type `kind` (matching `match`) arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {kind} {match} within {timeout}s; got {self.received[-5:]}"
                )
            event = await self.next(remaining)
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    async def until_any(self, kinds: set[str], timeout: float = 3) -> dict[str, Any]:
        """Read events until one whose type is in `kinds` arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"none of {kinds} within {timeout}s; got {self.received[-5:]}")
            event = await self.next(remaining)
            if event["type"] in kinds:
                return event

    async def closed_with(self, timeout: float = 3) -> int | None:
        try:
            while True:
                await self.next(timeout)
        except ConnectionClosed as closed:
            return closed.code

    async def drain(self, timeout: float = 0.3) -> list[dict[str, Any]]:
        """Read (and record) whatever arrives until the line is quiet for `timeout`."""
        got = []
        while not await self.comm.receive_nothing(timeout):
            got.append(await self.next())
        return got

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.comm.receive_nothing(timeout)

    def durable(self) -> list[dict[str, Any]]:
        return [e for e in self.received if "seq" in e and e["type"] not in {"ack"}]

    async def close(self) -> None:
        await self.comm.disconnect()


class ConnectionClosed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


async def connect(
    room_or_session: Any, token: str | None, *, headers: list | None = None
) -> tuple[Client, dict[str, Any] | None]:
    """Connect; returns the client and its `session.state` (None when the room closed at once)."""
    session_id = (
        room_or_session.session.pk if isinstance(room_or_session, Room) else room_or_session
    )
    all_headers = [ORIGIN, HOST]
    if token:
        all_headers.append((b"authorization", f"Token {token}".encode()))
    all_headers += headers or []
    comm = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=all_headers)
    connected, _ = await comm.connect(timeout=5)
    assert connected, "the handshake was refused"
    client = Client(comm)
    try:
        state = await client.next(5)
    except ConnectionClosed:
        return client, None
    assert state["type"] == "session.state"
    return client, state


async def join(room: Room, persona: str) -> tuple[Client, dict[str, Any]]:
    client, state = await connect(room, room.world.tokens[persona])
    assert state is not None, f"{persona} was refused with {client.close_code}"
    return client, state
