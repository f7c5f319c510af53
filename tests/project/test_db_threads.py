"""The live room's database threads (project/realtime.py, issue 20): on PostgreSQL each keeps
its pooled connection between calls, and gives it back whenever it cannot be trusted as it is."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from project import realtime

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in connection.settings_dict["ENGINE"],
        reason="SQLite runs the room's calls on Channels' one thread, as before",
    ),
]


def backend() -> tuple[int, int]:
    """Which thread this is, and which PostgreSQL backend its connection talks to."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return threading.get_ident(), cursor.fetchone()[0]


def held() -> object | None:
    """The psycopg connection this thread holds, without touching the database."""
    return connections["default"].connection


def fail_in_the_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


def leave_a_transaction_open() -> None:
    transaction.set_autocommit(False)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


async def one_thread_calls(*funcs: object) -> list[object]:
    """Run calls one after another on one database thread (the process has several)."""
    async with threads(1):
        results: list[object] = []
        for func in funcs:
            try:
                results.append(await realtime.run_in_db(func))
            except DatabaseError as error:
                results.append(type(error).__name__)
        return results


@contextlib.asynccontextmanager
async def threads(count: int) -> AsyncIterator[None]:
    """`count` database threads for the duration, stopped (their connections given back) after."""
    await asyncio.to_thread(realtime.stop_db_threads)
    before = settings.HAVEN_DB_THREADS
    settings.HAVEN_DB_THREADS = count
    try:
        yield
    finally:
        await asyncio.to_thread(realtime.stop_db_threads)
        settings.HAVEN_DB_THREADS = before


async def test_a_database_thread_keeps_its_connection_from_one_call_to_the_next() -> None:
    first, second, kept = await one_thread_calls(backend, backend, held)

    assert first == second  # the same thread, the same PostgreSQL backend
    assert kept is not None  # still held after the call, where it used to go back to the pool


async def test_a_broken_connection_fails_one_call_then_the_next_takes_a_fresh_one() -> None:
    """What a PostgreSQL restart does to a kept connection, on one backend."""
    async with threads(1):
        before = await realtime.run_in_db(backend)
        await asyncio.to_thread(terminate, before[1])

        with pytest.raises(DatabaseError):  # the room answers "try again" for this one call
            await realtime.run_in_db(backend)
        after_error = await realtime.run_in_db(held)
        after = await realtime.run_in_db(backend)

    assert after_error is None  # given back after the error, not carried into the next call
    assert after[0] == before[0] and after[1] != before[1]


def terminate(pid: int) -> None:
    """End one PostgreSQL backend from outside, on a connection of its own."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


async def test_a_refused_statement_keeps_the_connection_it_did_not_harm() -> None:
    before, failed, after = await one_thread_calls(backend, fail_in_the_database, backend)

    assert failed == "DataError"  # division by zero: her input's kind of error, not the link's
    assert after == before


async def test_a_transaction_left_open_is_never_carried_into_the_next_call() -> None:
    _, left_open, after = await one_thread_calls(backend, leave_a_transaction_open, held)

    assert left_open is None
    assert after is None


async def test_a_connection_older_than_the_limit_goes_back_to_the_pool(monkeypatch) -> None:
    monkeypatch.setattr(realtime, "KEEP_CONNECTION_SECONDS", 0.0)

    first, kept = await one_thread_calls(backend, held)

    assert first[1] > 0
    assert kept is None


async def test_stopping_the_threads_gives_every_kept_connection_back() -> None:
    # Each call waits for one on the other thread, so both threads run calls and hold a
    # connection (a fast first thread could otherwise run all eight while the second starts).
    meet = threading.Barrier(2, timeout=5)

    def on_both_threads() -> tuple[int, int]:
        meet.wait()
        return backend()

    async with threads(2):
        await asyncio.gather(*(realtime.run_in_db(on_both_threads) for _ in range(8)))
        assert realtime._kept and all(c.connection is not None for c in realtime._kept)
        kept = list(realtime._kept)

        await asyncio.to_thread(realtime.stop_db_threads)

        assert realtime._kept == []
        assert all(c.connection is None for c in kept)
        # The next call starts new threads with new connections.
        assert (await realtime.run_in_db(backend))[1] > 0


async def test_a_cancelled_caller_waits_for_its_call_and_the_call_is_not_lost() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "written"

    call = asyncio.ensure_future(realtime.run_in_db(slow))
    await asyncio.to_thread(started.wait, 5)
    call.cancel()
    await asyncio.sleep(0.05)
    assert not call.done()  # still waiting for the write, as with asgiref
    release.set()

    assert await asyncio.wait_for(call, 5) == "written"
