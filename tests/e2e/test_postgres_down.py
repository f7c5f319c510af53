"""PostgreSQL stops mid-session and comes back (catalogue test 16; issue "Fault suite").

A private PostgreSQL cluster on a free loopback port (its own data directory, run as the
`postgres` OS user when we are root), migrated and seeded with a live room by subprocesses,
serves one Daphne process, which uses the shared Redis under a channel prefix of its own. The
pytest process's own test database is not involved.

While the cluster is stopped (`pg_ctl stop -m immediate`, mid-session): every send is answered
with an `error` whose code is `unavailable` (retryable) and none is acked; connections stay open,
or close and can come back later. Once the cluster is started again: sends are acked again (a
send refused during the outage succeeds when retried with the same client_id), and the database
holds exactly the acked messages, each once, with contiguous seqs and no partial rows (no message
without its event, no event without its message). Every member ends with the whole log.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import (
    DAPHNE_MAX_FRAME,
    E2E,
    ROOT,
    Process,
    Refused,
    RoomClient,
    close_all,
    free_port,
    run,
    spawn,
    stop_all,
    tail,
)

pytestmark = E2E

HEARTBEAT_SECONDS = 1
# The Daphne's pool waits this long for a connection before giving up (HAVEN's pool option).
POOL_TIMEOUT_SECONDS = 10
# An answer during the outage may queue behind heartbeats on the database thread.
OUTAGE_REPLY_SECONDS = 45
RECOVERY_SECONDS = 60
PG_START_SECONDS = 30


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass
class Cluster:
    """A private PostgreSQL cluster that a test may stop and start again."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = PG_START_SECONDS) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{command[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{tail(self.log, 30)}"
            )

    def init(self) -> None:
        initdb = _postgres_bin("initdb")
        assert initdb is not None
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        pg_ctl = _postgres_bin("pg_ctl")
        assert pg_ctl is not None
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
            "-t", str(PG_START_SECONDS), "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop at once: no checkpoint, every backend killed (a crash, as far as clients see)."""
        pg_ctl = _postgres_bin("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def query(self, sql: str, *params: Any, database: str = "haven") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if _postgres_bin("initdb") is None or _postgres_bin("pg_ctl") is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl")
    # Not under pytest's tmp_path: its parents are private to root, and the cluster runs as
    # the postgres user.
    root = Path(tempfile.mkdtemp(prefix="haven-pg-"))
    root.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    server = Cluster(root=root, port=free_port())
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE haven")
        yield server
    finally:
        if server.running():
            with contextlib.suppress(Exception):
                server.stop()
        print(f"--- postgres (port {server.port}) ---\n{tail(server.log, 30)}")
        shutil.rmtree(root, ignore_errors=True)


SEED = textwrap.dedent(
    """
    import json

    import django

    django.setup()
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from tests.facilitation.room import make_room

    room = make_room()
    print(json.dumps({"session_id": room.session.pk, "tokens": room.world.tokens}))
    """
)


def _environment(settings: Any, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=database_url,
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        HAVEN_CHANNEL_PREFIX=f"pgdown{uuid.uuid4().hex[:12]}",
        HAVEN_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        PYTHONUNBUFFERED="1",
    )
    return env


def _python(code_or_args: list[str], env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{code_or_args[:2]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def room_on_cluster(cluster: Cluster, settings: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Migrate the private database, seed a live room into it, start one Daphne on it."""
    env = _environment(settings, cluster.url("haven"))
    _python(["manage.py", "migrate", "--no-input", "-v", "0"], env, timeout=180)
    seeded = json.loads(_python(["-c", SEED], env, timeout=120).strip().splitlines()[-1])
    port = free_port()
    command = [
        sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port),
        "--websocket-max-frame-size", str(DAPHNE_MAX_FRAME), "project.asgi:application",
    ]  # fmt: skip
    daphne: Process = spawn("daphne-pg", command, port=port, env=env, logs=tmp_path)
    try:
        daphne.wait_ready()
        yield {**seeded, "port": port, "daphne": daphne}
    finally:
        time.sleep(0.3)
        stubborn = stop_all([daphne])
        if stubborn:
            print(f"needed SIGKILL after SIGTERM: {stubborn}")
        print(f"--- {daphne.name} (port {daphne.port}) ---\n{tail(daphne.log)}")


def stored(cluster: Cluster, session_id: int) -> dict[str, Any]:
    """The room as the database has it: messages, the log, and any partial rows."""
    messages = cluster.query(
        "SELECT id, client_id::text FROM facilitation_message WHERE session_id = %s ORDER BY id",
        session_id,
    )
    events = cluster.query(
        "SELECT seq, type, message_id FROM facilitation_sessionevent WHERE session_id = %s "
        "ORDER BY seq",
        session_id,
    )
    (last_seq,) = cluster.query(
        "SELECT last_seq FROM facilitation_session WHERE id = %s", session_id
    )[0]
    orphans = cluster.query(
        "SELECT m.id FROM facilitation_message m LEFT JOIN facilitation_sessionevent e "
        "ON e.message_id = m.id AND e.type = 'message' WHERE m.session_id = %s AND e.id IS NULL",
        session_id,
    )
    return {
        "messages": messages,
        "events": events,
        "last_seq": last_seq,
        "messages_without_event": [row[0] for row in orphans],
    }


async def answer_to(member: RoomClient, body: str, client_id: str, timeout: float) -> Any:
    """Send once; the `ack` or `error` for it, or None when her connection closed first."""
    if not member.connected or not await member.send(
        type="message.send", client_id=client_id, body=body, content_warning=None
    ):
        return None
    return await member.reply_to(client_id, timeout=timeout)


async def until_acked(member: RoomClient, body: str, client_id: str, *, port: int) -> dict:
    """After the outage: send (the same client_id) until acked, reconnecting if need be."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_SECONDS
    last = None
    while loop.time() < deadline:
        if not member.connected:
            with contextlib.suppress(Refused, OSError, TimeoutError, AssertionError):
                await member.reconnect([port], within=min(10, deadline - loop.time()))
        if member.connected:
            # Forget a refusal of this client_id from the outage, so we read the new answer.
            member.errors = [e for e in member.errors if e.get("ref") != client_id]
            last = await answer_to(member, body, client_id, OUTAGE_REPLY_SECONDS)
            if last is not None and last["type"] == "ack":
                return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{member.name}: {client_id} not acked after recovery (last: {last})")


def test_sends_while_postgres_is_down_are_refused_as_retryable_and_leave_no_partial_rows(
    cluster: Cluster, room_on_cluster: dict[str, Any]
) -> None:
    port = room_on_cluster["port"]
    session_id = room_on_cluster["session_id"]
    tokens = room_on_cluster["tokens"]
    timings: dict[str, float] = {}
    probe: list[str] = []

    async def scenario() -> tuple[list[RoomClient], dict[str, Any]]:
        everyone = [
            RoomClient(persona, tokens[persona], session_id)
            for persona in ("facilitator", "member", "member2")
        ]
        await asyncio.gather(*(member.connect(port) for member in everyone))
        await asyncio.gather(*(member.settled() for member in everyone))
        acked: dict[str, dict[str, Any]] = {}
        for member in everyone:
            client_id = str(uuid.uuid4())
            answer = await answer_to(member, f"{member.name} before", client_id, 10)
            assert answer is not None and answer["type"] == "ack", answer
            acked[client_id] = answer

        await asyncio.to_thread(cluster.stop)
        started = time.monotonic()
        refused: dict[str, tuple[RoomClient, dict[str, Any] | None]] = {}

        async def during(member: RoomClient) -> None:
            client_id = str(uuid.uuid4())
            refused[client_id] = (
                member,
                await answer_to(member, f"{member.name} during", client_id, OUTAGE_REPLY_SECONDS),
            )

        await asyncio.gather(*(during(member) for member in everyone))
        timings["outage answers (s)"] = round(time.monotonic() - started, 1)
        still_open = [member.name for member in everyone if member.connected]
        # Entering the room while the database is down (recorded for the report).
        newcomer = RoomClient("member-probe", tokens["member"], session_id)
        try:
            await newcomer.connect(port, timeout=OUTAGE_REPLY_SECONDS)
            probe.append("let in")
            await newcomer.drop()
        except Refused as closed:
            probe.append(f"closed {closed.code}")
        except Exception as error:
            probe.append(type(error).__name__)

        await asyncio.to_thread(cluster.start)
        started = time.monotonic()
        # A send refused during the outage, retried with its client_id: stored once.
        retried_id, (retried_by, _) = next(iter(refused.items()))
        answer = await until_acked(retried_by, f"{retried_by.name} during", retried_id, port=port)
        timings["first ack after restart (s)"] = round(time.monotonic() - started, 1)
        acked[retried_id] = answer
        for member in everyone:
            client_id = str(uuid.uuid4())
            acked[client_id] = await until_acked(
                member, f"{member.name} after", client_id, port=port
            )
        for member in everyone:
            if not member.connected:
                await member.reconnect([port], within=15)
        newest = max(answer["seq"] for answer in acked.values())
        await asyncio.gather(*(member.wait_seq(newest, timeout=15) for member in everyone))
        await close_all(everyone)
        return everyone, {"acked": acked, "refused": refused, "still_open": still_open}

    everyone, outcome = run(scenario(), timeout=300)
    acked, refused = outcome["acked"], outcome["refused"]
    print(
        "timings:", timings, "entering during the outage:", probe,
        "open through the outage:", outcome["still_open"],
        "closes:", {member.name: member.close_codes for member in everyone},
    )  # fmt: skip

    # During the outage: refused as retryable, never acked (or no answer: her socket closed).
    answers = [answer for _, answer in refused.values()]
    assert any(answer is not None for answer in answers), "nobody got an answer during the outage"
    for answer in answers:
        assert answer is None or (answer["type"] == "error" and answer["code"] == "unavailable"), (
            answer
        )

    # Afterwards: exactly the acked messages, each once, and a log without gaps or orphans.
    db = stored(cluster, session_id)
    stored_ids = [client_id for _, client_id in db["messages"]]
    assert sorted(stored_ids) == sorted(acked), "stored messages are not exactly the acked ones"
    assert len(stored_ids) == len(set(stored_ids)), "a message was stored twice"
    seqs = [seq for seq, _, _ in db["events"]]
    assert seqs == list(range(1, len(seqs) + 1)), f"the log has a gap: {seqs}"
    assert db["last_seq"] == len(seqs)
    assert db["messages_without_event"] == [], "a message without its event"
    message_events = {
        message_id: seq for seq, kind, message_id in db["events"] if kind == "message"
    }
    assert None not in message_events, "a message event without its message"
    by_id = dict(db["messages"])
    for client_id, answer in acked.items():
        assert by_id[answer["message_id"]] == client_id
        assert message_events[answer["message_id"]] == answer["seq"]
    for client_id, (_, answer) in refused.items():
        if answer is not None and client_id not in acked:
            assert client_id not in stored_ids, "a refused send was stored"

    # Every member applied the whole log she may read, in order, each event once.
    log = [(seq, kind, message_id) for seq, kind, message_id in db["events"]]
    for member in everyone:
        visible = [event for event in log if event[0] > member.hidden_until]
        assert member.stream() == visible, member.name


def test_entering_while_postgres_is_down_is_closed_with_try_again_later(
    cluster: Cluster, room_on_cluster: dict[str, Any]
) -> None:
    port = room_on_cluster["port"]
    session_id = room_on_cluster["session_id"]

    async def scenario() -> Any:
        member = RoomClient("member", room_on_cluster["tokens"]["member"], session_id)
        await member.connect(port)
        await member.settled()
        await member.drop()
        await asyncio.to_thread(cluster.stop)
        try:
            await member.connect(port, timeout=OUTAGE_REPLY_SECONDS)
        except Refused as closed:
            return closed.code
        except Exception as error:
            return repr(error)
        await member.drop()
        return "let in"

    outcome = run(scenario(), timeout=120)
    assert outcome == 4503, outcome
