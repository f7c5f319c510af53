"""`python -m project.serve`: the garbage-collector tuning, the stall log, the handshake
deadline, and closing the attendance of a stopping process."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import DatabaseError, connection

from facilitation.models import Attendance
from facilitation.services import room as room_services
from project import realtime, serve
from project.config import ConfigurationError
from tests.e2e.conftest import free_port, port_open, tail

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    gc.callbacks[:] = callbacks


def test_tune_gc_freezes_what_is_loaded_and_raises_the_young_threshold(restore_gc: None) -> None:
    serve.tune_gc()
    assert gc.get_threshold() == (
        serve.GC_GEN0_THRESHOLD,
        serve.GC_GEN1_THRESHOLD,
        serve.GC_GEN2_THRESHOLD,
    )
    assert gc.get_freeze_count() > 0
    # Cyclic garbage made afterwards is still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


async def test_a_blocked_event_loop_and_a_long_collection_are_logged(
    restore_gc: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="project.serve")
    serve.watch_stalls(20)
    await asyncio.sleep(0.02)
    time.sleep(0.1)  # what a long synchronous step does to every connection of the process
    await asyncio.sleep(0.05)
    assert any("stall: event loop" in r.getMessage() for r in caplog.records)
    before = len(caplog.records)
    serve.watch_stalls(0.0001)  # every collection is "long" at this threshold
    gc.collect()
    assert any("stall: gc generation 2" in r.getMessage() for r in caplog.records[before:])
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


def test_a_stall_threshold_that_is_not_a_number_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, restore_gc: None
) -> None:
    monkeypatch.setenv("HAVEN_STALL_LOG_MS", "fast")
    with pytest.raises(ConfigurationError, match="HAVEN_STALL_LOG_MS must be a number"):
        serve._on_start()


# --- the handshake deadline (issue 20) -------------------------------------------------------


def test_the_start_command_gets_a_long_handshake_deadline_unless_it_names_one() -> None:
    given = ["serve", "-p", "8001", "project.asgi:application"]
    assert serve.connect_timeout_argv(given) == [
        "serve",
        "--websocket_connect_timeout",
        str(serve.WEBSOCKET_CONNECT_TIMEOUT),
        "-p",
        "8001",
        "project.asgi:application",
    ]
    own = ["serve", "--websocket_connect_timeout", "9", "project.asgi:application"]
    assert serve.connect_timeout_argv(own) == own
    assert serve.connect_timeout_argv(["serve", "--websocket_connect_timeout=9"]) == [
        "serve",
        "--websocket_connect_timeout=9",
    ]


def test_a_handshake_the_application_accepts_after_daphnes_five_seconds_still_opens(
    tmp_path: Path,
) -> None:
    """Plain Daphne refuses a WebSocket not accepted within 5 s; `project.serve` waits longer,
    so a member whose entry queued behind a restart storm gets in on her first try."""
    from tests.project import slow_accept_app

    assert slow_accept_app.SLOW_ACCEPT_SECONDS > 5  # past Daphne's own default
    port = free_port()
    log = tmp_path / "daphne.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HAVEN_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(HAVEN_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*command, "tests.project.slow_accept_app:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        for _ in range(300):
            assert proc.poll() is None, tail(log)
            if port_open(port):
                break
            time.sleep(0.05)

        async def first_frame() -> str:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/", open_timeout=30, close_timeout=1
            ) as socket:
                return str(await asyncio.wait_for(socket.recv(), timeout=10))

        assert asyncio.run(first_frame()) == "accepted", tail(log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def restore_db_calls() -> Iterator[None]:
    """`close_attendance` stops this process's database calls for good: start them again."""
    yield
    realtime._stopping.clear()


@pytest.mark.django_db(transaction=True)
async def test_a_stopping_process_closes_its_attendance_after_its_last_database_call(
    restore_db_calls: None,
) -> None:
    from tests.facilitation.room import amake_room

    room = await amake_room()
    # PostgreSQL runs the calls on Haven's own threads, SQLite on Channels' one: both stop.
    on_postgres = connection.vendor == "postgresql"
    assert (realtime._db_executor() is not None) == on_postgres

    def slow_entry() -> int:
        """An entry still writing its attendance row when the process is told to stop."""
        time.sleep(0.5)
        return Attendance.objects.create(
            session=room.session,
            membership_id=room.member_id("member"),
            process=room_services.PROCESS_ID,
        ).pk

    entering = asyncio.create_task(realtime.run_in_db(slow_entry))
    await asyncio.sleep(0.1)

    closed = await serve.close_attendance(timeout=10)

    assert closed == 1
    row = await database_sync_to_async(Attendance.objects.get)(pk=await entering)
    assert row.left_at is not None
    with pytest.raises(DatabaseError):  # nothing is written after the close: 'unavailable'
        await realtime.run_in_db(slow_entry)


def a_websocket_factory() -> Any:
    import txaio

    txaio.use_twisted()
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    factory.setProtocolOptions(autoPingTimeout=7, openHandshakeTimeout=60, allowNullOrigin=True)
    return factory


def test_a_connection_reads_the_factorys_options_without_copying_them() -> None:
    from autobahn.websocket import protocol

    factory = a_websocket_factory()
    plain = factory.buildProtocol(None)
    protocol.WebSocketProtocol._connectionMade(plain)
    serve.share_protocol_options(factory)
    lean = factory.buildProtocol(None)
    protocol.WebSocketProtocol._connectionMade(lean)

    for name in lean.CONFIG_ATTRS:
        assert getattr(lean, name) == getattr(plain, name) == getattr(factory, name), name
        assert name not in vars(lean)
    assert (lean.autoPingTimeout, lean.openHandshakeTimeout) == (7, 60)
    # An option that is a function is called as the function it is, not as a method.
    assert lean.perMessageCompressionAccept is factory.perMessageCompressionAccept
    assert lean.perMessageCompressionAccept([]) is None
    assert len(vars(lean)) <= len(vars(plain)) - len(lean.CONFIG_ATTRS)
    # One connection may still set an option for itself alone.
    lean.autoPingTimeout = 3
    assert factory.buildProtocol(None).autoPingTimeout == 7


def test_the_connection_log_pretty_prints_only_when_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pprint

    from autobahn.websocket import protocol

    monkeypatch.setattr(protocol, "pformat", pprint.pformat)
    serve.lazy_connection_log()
    serve.lazy_connection_log()  # twice is once
    logged: list[Any] = []
    factory = a_websocket_factory()
    connection = factory.buildProtocol(None)
    monkeypatch.setattr(connection.log, "debug", lambda text, **kw: logged.append(kw))

    protocol.WebSocketProtocol._connectionMade(connection)

    (attrs,) = [kw["attrs"] for kw in logged if "attrs" in kw]
    assert isinstance(attrs, serve._Pretty)  # nothing formatted yet
    # Written, it is the same text as before.
    assert f"\n{attrs}" == "\n" + pprint.pformat(attrs.obj)
    assert ("autoPingTimeout", 7, "WebSocketServerFactory") in attrs.obj
    # Every other caller gets pprint's text at once.
    assert protocol.pformat({"a": [1, 2]}) == pprint.pformat({"a": [1, 2]})
    assert protocol.pformat({"a": 1}, width=1) == pprint.pformat({"a": 1}, width=1)


def test_an_access_log_to_devnull_is_no_access_log_and_any_other_is_redacted(
    tmp_path: Path,
) -> None:
    # Haven's default (`access_log_argv`): Daphne gets no writer, so it formats nothing.
    devnull = open(os.devnull, "a", 1)  # noqa: SIM115 - as Daphne's CLI opens it
    assert serve.access_log(devnull) is None
    assert devnull.closed
    # One asked for is written, through the redaction.
    with (tmp_path / "access.log").open("a", 1) as stream:
        writer = serve.access_log(stream)
        assert isinstance(writer, serve.RedactedAccessLog)
        writer(
            "http",
            "complete",
            {
                "client": "127.0.0.1",
                "method": "GET",
                "path": "/invites/abc123/?next=x",
                "status": 200,
                "size": 10,
            },
        )
    assert "abc123" not in (tmp_path / "access.log").read_text()
    assert "/invites/[redacted]" in (tmp_path / "access.log").read_text()


def test_autobahn_builds_its_debug_strings_without_colour_as_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autobahn import util

    monkeypatch.setattr(util, "_HAS_CLICK", True)
    coloured = util.hl("peer")
    assert coloured != "peer", "click is installed here: without the fix it colours"
    serve.plain_debug_strings()
    assert util.hl("peer") == "peer"
    assert util.hltype(serve.plain_debug_strings) == ("<project.serve.plain_debug_strings>")
