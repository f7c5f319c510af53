"""project/asyncdb.py: the event loop's PostgreSQL connections, on psycopg-pool.

Real PostgreSQL (DATABASE_URL); the pool, the connections and the server are the real ones.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from project import asyncdb

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="asyncdb is PostgreSQL's"),
]


@pytest.fixture
def one_connection(settings: Any) -> Iterator[None]:
    """A pool of one connection, so that consecutive calls share it."""
    settings.HAVEN_DB_THREADS = 1
    yield
    asyncdb.close_all()


@pytest.fixture
async def probe_table() -> AsyncIterator[str]:
    """A table of the test database, made and dropped outside the connections under test."""
    name = f"asyncdb_probe_{uuid.uuid4().hex[:8]}"
    kwargs = asyncdb._connect_kwargs()
    async with await psycopg.AsyncConnection.connect(**kwargs) as admin:
        await admin.execute(f"CREATE TABLE {name} (n integer)")
    yield name
    async with await psycopg.AsyncConnection.connect(**kwargs) as admin:
        await admin.execute(f"DROP TABLE {name}")


async def backend_pid(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT pg_backend_pid()")
    row = await cursor.fetchone()
    assert row is not None
    return row[0]


def a_closed_port() -> int:
    """A loopback port nobody listens on (PostgreSQL 'down': connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_connection_is_in_autocommit_and_calls_of_one_loop_share_its_pool(one_connection):
    async with asyncdb.connection() as conn:
        assert isinstance(conn, psycopg.AsyncConnection)
        assert conn.autocommit is True
        first = await backend_pid(conn)
    async with asyncdb.connection() as conn:
        second = await backend_pid(conn)

    assert first == second
    assert len(asyncdb._pools) == 1


async def test_callers_arriving_together_on_a_new_loop_share_one_pool(settings):
    settings.HAVEN_DB_THREADS = 3

    async def one() -> int:
        async with asyncdb.connection() as conn:
            pid = await backend_pid(conn)
            await asyncio.sleep(0.05)  # hold it, so that the others need the other connections
            return pid

    try:
        pids = await asyncio.gather(*(one() for _ in range(6)))
        stats = asyncdb.stats()
    finally:
        asyncdb.close_all()

    assert len(asyncdb._pools) == 0
    assert 1 <= len(set(pids)) <= 3
    assert stats["connections_num"] == 3


def test_each_event_loop_gets_its_own_pool(one_connection):
    pools: list[AsyncConnectionPool[Any]] = []

    async def use() -> None:
        async with asyncdb.connection() as conn:
            await conn.execute("SELECT 1")
        pools.append(asyncdb._pools[asyncio.get_running_loop()].pool)

    asyncio.run(use())
    asyncio.run(use())

    assert len(pools) == 2 and pools[0] is not pools[1]
    asyncdb.close_all()
    assert asyncdb.stats() == {}


@pytest.mark.parametrize(("threads", "size"), [(0, 1), (1, 1), (3, 3)])
async def test_the_pool_holds_haven_db_threads_connections_and_at_least_one(
    settings, threads, size
):
    settings.HAVEN_DB_THREADS = threads
    try:
        async with asyncdb.connection() as conn:
            await conn.execute("SELECT 1")
        stats = asyncdb.stats()
    finally:
        asyncdb.close_all()

    assert stats["pool_min"] == stats["pool_max"] == stats["pool_size"] == size
    assert stats["requests_num"] >= 1


async def test_the_pool_is_set_up_with_a_lifetime_a_health_check_and_a_short_timeout(
    one_connection,
):
    async with asyncdb.connection():
        pool = asyncdb._pools[asyncio.get_running_loop()].pool

    assert pool.max_lifetime == asyncdb.MAX_LIFETIME_SECONDS
    assert pool.timeout == asyncdb.CONNECT_TIMEOUT_SECONDS <= 5
    assert pool.reconnect_timeout == asyncdb.RECONNECT_SECONDS
    assert pool._check is asyncdb._check


async def test_a_transaction_left_open_is_rolled_back_never_committed(one_connection, probe_table):
    async with asyncdb.connection() as conn:
        first = await backend_pid(conn)
        await conn.execute("BEGIN")
        await conn.execute(f"INSERT INTO {probe_table} VALUES (1)")
        assert conn.info.transaction_status == TransactionStatus.INTRANS

    async with asyncdb.connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert conn.autocommit is True
        cursor = await conn.execute(f"SELECT count(*) FROM {probe_table}")
        assert await cursor.fetchone() == (0,)
        # The same backend, rolled back rather than dropped: its prepared statements stay.
        assert await backend_pid(conn) == first


async def test_a_failed_transaction_does_not_reach_the_next_caller(one_connection):
    with pytest.raises(psycopg.errors.DivisionByZero):
        async with asyncdb.connection() as conn, conn.transaction():
            await conn.execute("SELECT 1 / 0")
    with pytest.raises(psycopg.errors.UndefinedTable):
        async with asyncdb.connection() as conn:
            await conn.execute("BEGIN")
            await conn.execute("SELECT * FROM no_such_table_here")

    async with asyncdb.connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
        cursor = await conn.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)


async def test_autocommit_turned_off_by_a_caller_is_turned_back_on(one_connection):
    async with asyncdb.connection() as conn:
        await conn.set_autocommit(False)
        await conn.execute("SELECT 1")

    async with asyncdb.connection() as conn:
        assert conn.autocommit is True
        assert conn.info.transaction_status == TransactionStatus.IDLE


async def test_a_call_cancelled_mid_query_leaves_no_busy_connection_behind(one_connection):
    started = asyncio.Event()
    pids: list[int] = []

    async def slow() -> None:
        async with asyncdb.connection() as conn:
            pids.append(await backend_pid(conn))
            started.set()
            await conn.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    begun = time.monotonic()
    async with asyncdb.connection() as conn:
        cursor = await conn.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)
        assert conn.info.transaction_status == TransactionStatus.IDLE
        # The server stopped the cancelled query too, instead of sleeping on for 30 seconds
        # (on this very backend, SELECT 1 would have waited for it).
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE pid = %s AND pid <> pg_backend_pid() AND state = 'active'",
            pids,
        )
        assert await cursor.fetchone() == (0,)
    assert time.monotonic() - begun < asyncdb.CONNECT_TIMEOUT_SECONDS


async def test_a_connection_the_server_killed_is_replaced_before_it_is_handed_out(one_connection):
    async with asyncdb.connection() as conn:
        killed = await backend_pid(conn)
    async with await psycopg.AsyncConnection.connect(**asyncdb._connect_kwargs()) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", [killed])
    # Idle for longer than the window in which a just-returned connection goes unchecked.
    await asyncio.sleep(asyncdb.CHECK_AFTER_IDLE_SECONDS + 0.2)

    async with asyncdb.connection() as conn:
        assert await backend_pid(conn) != killed
    assert asyncdb.stats()["connections_num"] >= 2


async def test_a_busy_pool_answers_psycopg_error_after_its_timeout(one_connection, monkeypatch):
    monkeypatch.setattr(asyncdb, "CONNECT_TIMEOUT_SECONDS", 0.5)
    async with asyncdb.connection():
        begun = time.monotonic()
        with pytest.raises(psycopg.Error) as refused:
            async with asyncdb.connection():
                pass
        waited = time.monotonic() - begun

    assert isinstance(refused.value, PoolTimeout)
    assert 0.4 < waited < 2


async def test_an_unavailable_database_raises_psycopg_error_soon_and_recovers(one_connection):
    """PostgreSQL 'down' (nothing listens on its port), then back."""
    settings_dict = connection.settings_dict
    real_port = settings_dict["PORT"]
    settings_dict["PORT"] = str(a_closed_port())
    try:
        for _ in range(2):
            begun = time.monotonic()
            with pytest.raises(psycopg.Error):
                async with asyncdb.connection() as conn:
                    await conn.execute("SELECT 1")
            assert time.monotonic() - begun < asyncdb.CONNECT_TIMEOUT_SECONDS + 1
    finally:
        settings_dict["PORT"] = real_port

    # Back: the pool reconnects on its own within seconds (it backs off for at most
    # RECONNECT_SECONDS, then tries again when asked).
    deadline = time.monotonic() + asyncdb.RECONNECT_SECONDS + asyncdb.CONNECT_TIMEOUT_SECONDS + 5
    while True:
        try:
            async with asyncdb.connection() as conn:
                cursor = await conn.execute("SELECT 1")
                assert await cursor.fetchone() == (1,)
            break
        except psycopg.Error:
            assert time.monotonic() < deadline, "the pool did not come back"
            await asyncio.sleep(0.2)
