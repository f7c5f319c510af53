"""End-to-end fixtures: real Daphne processes on one PostgreSQL and one Redis.

The servers are separate processes started from the command line, exactly as production runs
them; the test talks to them over real sockets with the `websockets` client. Their data comes
from `make_room()` in the test thread, committed for real (`transaction=True`), in the test
database that pytest-django created; the servers are pointed at that database by name.

`RoomClient` behaves as PROTOCOL.md asks a client to: it keeps the last `seq` it applied, applies
durable events strictly in order, asks for a `resume` on a gap and after every (re)connect, and
remembers what it applied so a test can compare every member's stream with the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
E2E_READY = bool(os.environ.get("DATABASE_URL", "").strip()) and bool(
    os.environ.get("REDIS_URL", "").strip()
)
# Every module in tests/e2e sets `pytestmark = E2E`.
E2E = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        not E2E_READY, reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)"
    ),
    pytest.mark.django_db(transaction=True),
]
START_TIMEOUT = 15.0
DAPHNE_MAX_FRAME = 65536
HEARTBEAT_SECONDS = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_database_url() -> str:
    """DATABASE_URL with its database name replaced by the test database pytest-django made."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    parts = urlsplit(os.environ["DATABASE_URL"].strip())
    return urlunsplit(parts._replace(path=f"/{name}"))


test_database_url.__test__ = False  # a helper, not a test


def tail(path: Path, lines: int = 80) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Process:
    """A server process we started; stopped (and waited for) by its fixture."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start:\n{tail(self.log)}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not listening after {timeout}s:\n{tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL: no goodbye to its sockets, its Redis groups or the database."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, *, within: float = 5) -> bool:
        """SIGTERM, then SIGKILL after `within` seconds; True when it exited by itself."""
        if self.alive():
            self.proc.terminate()
        try:
            self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return False
        return True


def stop_all(processes: list[Process], *, within: float = 3) -> list[str]:
    """Stop processes together; returns the names of those that needed SIGKILL."""
    for process in processes:
        if process.alive():
            process.proc.terminate()
    deadline = time.monotonic() + within
    return [
        process.name
        for process in processes
        if not process.stop(within=max(0.1, deadline - time.monotonic()))
    ]


def spawn(name: str, command: list[str], *, port: int, env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(name=name, port=port, proc=proc, log=log)


class RedisServer:
    """A private redis-server on a free loopback port, which a test may kill and restart."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.process: Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.logs),
        ]
        self.process = spawn(
            f"redis-{self.starts}", command, port=self.port, env=dict(os.environ), logs=self.logs
        )
        self.process.wait_ready()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        print(f"--- redis (port {server.port}) ---\n{tail(tmp_path / 'redis-1.log', 20)}")


DaphneStarter = Callable[..., list[Process]]


@pytest.fixture
def daphne(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[DaphneStarter]:
    """Start Daphne processes: `daphne("A", "B", redis_url=...)` returns them once listening.

    They share this test's database and a channel-layer prefix of their own, so no other run
    (or the pytest process's own broadcasts) ever reaches them.
    """
    prefix = f"e2e{uuid.uuid4().hex[:12]}"
    database_url = test_database_url()
    started: list[Process] = []

    def start(
        *names: str,
        redis_url: str | None = None,
        env_extra: dict[str, str] | None = None,
        port: int | None = None,
    ) -> list[Process]:
        """`port`: listen there (one name only), e.g. a new process where a stopped one was."""
        assert port is None or len(names) == 1
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url or os.environ["REDIS_URL"].strip(),
            HAVEN_CHANNEL_PREFIX=prefix,
            HAVEN_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
            DJANGO_DEBUG="1",
            # The same keys as this process: tokens and encrypted bodies must agree.
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
            PYTHONUNBUFFERED="1",
        )
        env.update(env_extra or {})
        batch = []
        for name in names:
            listen = port or free_port()
            command = [
                sys.executable,
                "-m",
                "project.serve",
                "-b",
                "127.0.0.1",
                "-p",
                str(listen),
                "--websocket-max-frame-size",
                str(DAPHNE_MAX_FRAME),
                "project.asgi:application",
            ]
            process = spawn(f"daphne-{name}", command, port=listen, env=env, logs=tmp_path)
            started.append(process)
            batch.append(process)
        for process in batch:
            process.wait_ready()
        return batch

    try:
        yield start
    finally:
        # A moment for the servers to finish the closes the test just made: a Daphne told to
        # stop while a member's leave is still being written can hang until SIGKILL.
        time.sleep(0.3)
        stubborn = stop_all(started)
        if stubborn:
            print(f"needed SIGKILL after SIGTERM: {stubborn}")
        for process in started:
            # Shown by pytest only when the test failed.
            print(f"--- {process.name} (port {process.port}) ---\n{tail(process.log)}")


# --- the client -------------------------------------------------------------------------------


class Refused(Exception):
    """The room closed the connection instead of sending `session.state`."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"refused with close code {code}")
        self.code = code


@dataclass
class RoomClient:
    """One member's view of the room, across however many connections she makes in turn."""

    name: str
    token: str
    session_id: int
    ws: ClientConnection | None = None
    port: int | None = None
    last_seq: int = 0
    applied: list[dict[str, Any]] = field(default_factory=list)
    arrived_at: dict[str, float] = field(default_factory=dict)  # client_id -> when applied
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    wire: list[tuple[int, str]] = field(default_factory=list)  # every durable event received
    wire_duplicates: int = 0
    gaps_seen: int = 0
    resumes_sent: int = 0
    # The log up to this seq was said before she first came in: a marker, never the events.
    hidden_until: int = 0
    resuming: bool = False
    # Through a TLS proxy (tests/e2e/test_nginx.py): wss:// with this context.
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self.changed = asyncio.Condition()
        self.reader: asyncio.Task[None] | None = None

    # connecting

    @property
    def connected(self) -> bool:
        return self.ws is not None and self.reader is not None and not self.reader.done()

    async def connect(self, port: int, *, timeout: float = 5) -> dict[str, Any]:
        """Open a connection, read `session.state`, then `resume` after the last seq applied."""
        await self.drop()
        scheme = "wss" if self.tls else "ws"
        ws = await connect(
            f"{scheme}://127.0.0.1:{port}/ws/sessions/{self.session_id}/",
            additional_headers={"Authorization": f"Token {self.token}"},
            origin=f"{'https' if self.tls else 'http'}://127.0.0.1:{port}",
            ssl=self.tls,
            open_timeout=timeout,
            close_timeout=2,
            compression=None,
            proxy=None,
            max_size=None,
        )
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        except ConnectionClosed:
            self.close_codes.append(ws.close_code)
            raise Refused(ws.close_code) from None
        except BaseException:
            await ws.close()
            raise
        assert first["type"] == "session.state", first
        self.states.append(first)
        self.ws, self.port = ws, port
        self.resuming = False
        self.reader = asyncio.create_task(self._read(ws), name=f"reader-{self.name}")
        await self._resume()
        return first

    async def reconnect(self, ports: list[int], *, within: float = 15) -> dict[str, Any]:
        """Connect to the first of `ports` that lets her in, retrying until `within` runs out.

        Refusals by the room (4xxx) are final and raised; anything else (a dead process, a
        server error while Redis is down) is retried.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last_error: BaseException | None = None
        while loop.time() < deadline:
            for port in ports:
                try:
                    return await self.connect(port, timeout=min(3.0, deadline - loop.time()))
                except Refused as refused:
                    if refused.code is not None and 4000 <= refused.code < 5000:
                        raise
                    last_error = refused
                except (OSError, TimeoutError, ConnectionClosed, Exception) as error:
                    last_error = error
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} could not reconnect within {within}s: {last_error!r}")

    async def drop(self) -> None:
        """Close politely, if connected."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.reader, 3)
        self.ws = None
        self.reader = None

    def abort(self) -> None:
        """Cut the TCP connection without a close frame, as a lost network would."""
        assert self.ws is not None
        self.ws.transport.abort()

    # sending

    async def send(self, **content: Any) -> bool:
        if self.ws is None:
            return False
        try:
            await self.ws.send(json.dumps(content))
        except ConnectionClosed:
            return False
        return True

    async def send_raw(self, text: str) -> bool:
        if self.ws is None:
            return False
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def say(self, body: str, *, client_id: str | None = None) -> str:
        client_id = client_id or str(uuid.uuid4())
        await self.send(type="message.send", client_id=client_id, body=body, content_warning=None)
        return client_id

    async def reply_to(self, client_id: str, *, timeout: float = 5) -> dict[str, Any] | None:
        """The `ack` or `error` for `client_id`; None when the connection closed first."""
        ws = self.ws

        def answered() -> bool:
            return self._reply(client_id) is not None or self.ws is not ws or not self.connected

        await self.wait_until(answered, timeout, f"a reply to {client_id}")
        return self._reply(client_id)

    def _reply(self, client_id: str) -> dict[str, Any] | None:
        if client_id in self.acks:
            return self.acks[client_id]
        for error in self.errors:
            if error.get("ref") == client_id:
                return error
        return None

    async def post(self, body: str, *, ports: list[int], client_id: str | None = None) -> dict:
        """Send until answered: after a dropped connection, reconnect and resend the same
        `client_id` (which the protocol makes idempotent)."""
        client_id = client_id or str(uuid.uuid4())
        for _attempt in range(10):
            if not self.connected:
                await self.reconnect(ports)
            if await self.send(
                type="message.send", client_id=client_id, body=body, content_warning=None
            ):
                reply = await self.reply_to(client_id)
                if reply is not None:
                    return reply
            # The connection went away before the answer: the message may or may not be
            # stored; resending the same client_id settles it.
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name}: no answer to {client_id} after 10 attempts")

    # receiving

    async def _resume(self) -> None:
        if await self.send(type="resume", after_seq=self.last_seq):
            self.resuming = True
            self.resumes_sent += 1

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                await self._handle(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code if ws.close_code is not None else 1006)
            if self.ws is ws:
                self.ws = None
            async with self.changed:
                self.changed.notify_all()

    async def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "history.hidden":
            # Everything up to this seq is not hers to read: move past it (PROTOCOL extension).
            self.hidden_until = max(self.hidden_until, event["seq"])
            self.last_seq = max(self.last_seq, event["seq"])
        elif "seq" in event and kind != "ack":
            seq = event["seq"]
            self.wire.append((seq, kind))
            if seq <= self.last_seq:
                self.wire_duplicates += 1
            elif seq == self.last_seq + 1:
                self.last_seq = seq
                self.applied.append(event)
                if kind == "message":
                    self.arrived_at[event["client_id"]] = time.monotonic()
            else:
                self.gaps_seen += 1
                if not self.resuming:
                    await self._resume()
        elif kind == "resume.done":
            self.resuming = False
            if event["last_seq"] > self.last_seq:
                await self._resume()
        elif kind == "ack":
            self.acks[event["client_id"]] = event
        elif kind == "error":
            self.errors.append(event)
        elif kind == "notice":
            self.notices.append(event)
        elif kind == "heartbeat":
            self.heartbeats.append(event)
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout), self.changed:
                await self.changed.wait_for(predicate)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {what} within {timeout}s (last_seq={self.last_seq}, "
                f"closes={self.close_codes}, errors={self.errors[-3:]})"
            ) from None

    async def settled(self, timeout: float = 5) -> None:
        """Wait for the `resume.done` that answers the last resume."""
        await self.wait_until(lambda: not self.resuming, timeout, "resume.done")

    async def wait_seq(self, seq: int, timeout: float = 10) -> None:
        await self.wait_until(lambda: self.last_seq >= seq, timeout, f"seq {seq}")

    async def wait_closed(self, timeout: float = 5) -> int | None:
        ws = self.ws
        await self.wait_until(lambda: self.ws is not ws or not self.connected, timeout, "close")
        return self.close_codes[-1] if self.close_codes else None

    async def wait_event(self, kind: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self.applied:
                if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        await self.wait_until(lambda: found() is not None, timeout, f"{kind} {match}")
        event = found()
        assert event is not None
        return event

    # what she saw

    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.applied]

    def message_ids(self) -> list[int]:
        return [event["message_id"] for event in self.applied if event["type"] == "message"]

    def stream(self) -> list[tuple[int, str, int | None]]:
        return [(e["seq"], e["type"], e.get("message_id")) for e in self.applied]


def db_stream(session_id: int) -> list[tuple[int, str, int | None]]:
    """The session log as (seq, type, message_id), in order; call from sync code."""
    from facilitation.models import SessionEvent

    rows = SessionEvent.objects.filter(session_id=session_id).order_by("seq")
    return [(row.seq, row.type, row.message_id) for row in rows]


def db_messages(session_id: int) -> list[tuple[int, int, str]]:
    """Stored messages as (message_id, author member id, client_id), by id."""
    from facilitation.models import Message

    rows = Message.objects.filter(session_id=session_id).order_by("pk")
    return [(row.pk, row.author_id, str(row.client_id)) for row in rows]


async def adb(function: Callable[..., Any], *args: Any) -> Any:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(function)(*args)


async def db_last_seq(session_id: int) -> int:
    from facilitation.models import Session

    def read() -> int:
        return Session.objects.values_list("last_seq", flat=True).get(pk=session_id)

    return await adb(read)


async def all_caught_up(clients: list[RoomClient], *, timeout: float = 10) -> int:
    """Wait until every client has applied the log's newest seq; returns it."""
    newest = await db_last_seq(clients[0].session_id)
    await asyncio.gather(*(client.wait_seq(newest, timeout) for client in clients))
    return newest


async def close_all(clients: list[RoomClient]) -> None:
    """Say goodbye politely, so the servers see ordinary closes."""
    await asyncio.gather(*(client.drop() for client in clients))


def assert_everyone_has_the_log(clients: list[RoomClient], session_id: int) -> None:
    """Every client applied exactly the session log she may read (from her first entry on, or
    all of it for a host): in order, each once."""
    log = db_stream(session_id)
    assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1)), "the log has a gap"
    for client in clients:
        visible = [event for event in log if event[0] > client.hidden_until]
        assert client.seqs() == list(range(client.hidden_until + 1, len(log) + 1)), client.name
        assert client.stream() == visible, client.name
        ids = client.message_ids()
        assert len(ids) == len(set(ids)), f"{client.name} applied a message twice"


async def talk_through_a_kill(
    everyone: list[RoomClient],
    victim: Process,
    *,
    ports: list[int],
    reconnect_to: list[int],
    per_member: int,
) -> list[dict[str, Any]]:
    """Everyone posts `per_member` messages through `ports` while `victim` is SIGKILLed (after
    the first member's second ack); whoever it dropped reconnects to `reconnect_to`, and once
    everyone has caught up and said goodbye, every reply is returned."""

    async def talk(member: RoomClient) -> list[dict[str, Any]]:
        replies = []
        for index in range(per_member):
            replies.append(await member.post(f"{index}", ports=ports))
            await asyncio.sleep(0.12)
        return replies

    talking = asyncio.gather(*(talk(c) for c in everyone))
    await everyone[0].wait_until(lambda: len(everyone[0].acks) >= 2, 5, "two acks")
    await asyncio.to_thread(victim.kill)
    replies = await talking
    for member in everyone:
        if not member.connected:
            await member.reconnect(reconnect_to)
    await all_caught_up(everyone)
    await close_all(everyone)
    return [reply for batch in replies for reply in batch]


def add_member(room: Any, username: str, display_name: str) -> tuple[int, str]:
    """Another member of group A who has accepted the agreement; returns (member id, token)."""
    from groups import services as group_services
    from groups.models import GroupRole
    from tests.conftest import join

    world = room.world
    membership = join(
        world.group_a,
        by=world.users["facilitator"],
        username=username,
        display_name=display_name,
        role=GroupRole.MEMBER,
    )
    agreement = group_services.agreement_current(world.group_a)
    group_services.agreement_accept(
        actor=membership.user, group=world.group_a, version=agreement.version
    )
    return membership.pk, group_services.token_issue(user=membership.user)


def run(coroutine: Any, *, timeout: float = 60) -> Any:
    """Run one scenario on a fresh event loop, bounded, from a sync test."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())
