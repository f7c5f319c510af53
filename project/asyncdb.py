"""Asynchronous PostgreSQL connections for the live room's most frequent write, `message.send`.

Every other database call of the room runs on a thread (`realtime.run_in_db`). A message is the
one call made a hundred times a second in a busy process, and on a thread it waited for the
event loop's share of the GIL at every step (docs/performance.md). `facilitation.services.
message_post_fast` runs it on the event loop instead, on these connections.

One psycopg-pool `AsyncConnectionPool` per event loop (an asyncio connection belongs to the loop
that opened it), `HAVEN_DB_THREADS` connections (at least one) with the settings of the
`default` database, opened together when the loop first asks and kept open: the prepared
statements live as long as a connection. The pool replaces a connection after
`MAX_LIFETIME_SECONDS`, checks one that sat idle before handing it out, replaces one that broke,
and counts (`stats()`). Only on PostgreSQL, and only while `HAVEN_FAST_POST` is on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection as django_connection
from psycopg.pq import PipelineStatus, TransactionStatus
from psycopg_pool import AsyncConnectionPool

# How long a caller waits for a connection before it hears `psycopg.Error` (psycopg_pool's
# PoolTimeout is a psycopg.OperationalError): while PostgreSQL is down, no connection comes, and
# `message.send` falls back to the threaded path, which answers `unavailable`.
CONNECT_TIMEOUT_SECONDS = 3
# A connection is replaced after about an hour (the pool adds jitter, so they do not all
# reconnect at once): a backend's caches grow with its age, and after a failover or a change of
# DATABASE_URL's target, connections move over within the hour.
MAX_LIFETIME_SECONDS = 3600.0
# A failed reconnection is retried with backoff for this long, then given up until the next
# caller asks. Short, so that the loop's connections come back within seconds of PostgreSQL
# coming back (psycopg_pool's default, 5 minutes, backs off to a minute or more between tries).
RECONNECT_SECONDS = 5.0
# A connection returned less than this long ago is handed out without a round trip to check it:
# checking every time cost 0.4-0.6 ms more per call here (median of 3,000 pipelined three-
# statement transactions, loaded 2-core machine), about a tenth of a message's transaction
# (docs/performance.md), and a connection that just worked is very likely still alive. One that
# sat idle longer is checked (`AsyncConnectionPool.check_connection`); one that fails anyway
# makes `message.send` fall back to the threaded path, never lose the message.
CHECK_AFTER_IDLE_SECONDS = 1.0


# Weak keys, but a pool's tasks hold on to their loop: `close_all` is what empties it (Daphne
# runs one loop for the life of the process).
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
    weakref.WeakKeyDictionary()
)
# When each connection was last given back (time.monotonic()).
_returned_at: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
    weakref.WeakKeyDictionary()
)


def enabled() -> bool:
    return django_connection.vendor == "postgresql" and settings.HAVEN_FAST_POST


def _connect_kwargs() -> dict[str, Any]:
    """Django's own connection parameters for `default` (so `sslmode`, `options`, a service
    file, `prepare_threshold` ... set in DATABASE_URL or OPTIONS apply here too), in autocommit:
    `message_post_fast` opens its transaction itself."""
    kwargs = dict(django_connection.get_connection_params())
    kwargs.pop("cursor_factory", None)  # Django's synchronous cursor class
    if "prepare_threshold" not in django_connection.settings_dict.get("OPTIONS", {}):
        # Django turns preparing off for every connection; these few run the same four
        # statements all day (measured: S2 +20 % deliveries, -15 % CPU per delivery).
        kwargs["prepare_threshold"] = settings.HAVEN_FAST_POST_PREPARE or None
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    kwargs["autocommit"] = True
    return kwargs


async def _check(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's health check, skipped for a connection that was in use a moment ago."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    returned = _returned_at.get(conn)
    if returned is not None and time.monotonic() - returned < CHECK_AFTER_IDLE_SECONDS:
        return
    await AsyncConnectionPool.check_connection(conn)


class _LoopPool:
    """The pool of one event loop, the connections it opened, and the task that closes it when
    the loop is torn down."""

    def __init__(self) -> None:
        size = max(1, settings.HAVEN_DB_THREADS)
        # So that `close_all` can close them from synchronous code after their loop is gone.
        self.opened: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            # Called for every new connection, so one opened after a restart of PostgreSQL or
            # at the end of a lifetime has Django's parameters as they are then.
            kwargs=_connect_kwargs,
            # All opened at once, and the first caller waits until they are (`opening`): a pool
            # that grows while callers wait can still be connecting when a short-lived loop
            # (a test, asyncio.run) ends, and a connection attempt cancelled then stays open
            # on the server.
            min_size=size,
            max_size=size,
            open=False,
            configure=self._remember,
            check=_check,
            timeout=CONNECT_TIMEOUT_SECONDS,
            max_lifetime=MAX_LIFETIME_SECONDS,
            reconnect_timeout=RECONNECT_SECONDS,
            name="haven-asyncdb",
        )
        loop = asyncio.get_running_loop()
        self.closer = loop.create_task(self._close_at_teardown(), name="haven-asyncdb-closer")
        # A task of its own, so that a caller cancelled while it waits does not cancel the
        # opening under the others. When it fails (PoolTimeout), the pool is closed.
        self.opening = loop.create_task(
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS), name="haven-asyncdb-open"
        )

    async def _remember(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.opened.add(conn)

    async def _close_at_teardown(self) -> None:
        """Wait for the loop's end, then close the pool and its connections.

        `asyncio.run` (and pytest's loops) end by cancelling every task and waiting for them.
        psycopg-pool's workers outlive a cancellation that lands while they connect (only
        `close()` stops them), so an open pool would hang that wait; this task is cancelled
        with the others and closes the pool. `close()` then stops early, with the
        CancelledError of the workers cancelled beside it, before it closes the idle
        connections: those are closed here.
        """
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await self.pool.close(timeout=CONNECT_TIMEOUT_SECONDS + 1)
            self.finish()

    def finish(self) -> None:
        """Close every connection this pool opened, at once (no await: nothing can interrupt
        it, and it works after the loop is gone)."""
        for conn in list(self.opened):
            with contextlib.suppress(Exception):
                conn.pgconn.finish()


async def _loop_pool() -> AsyncConnectionPool[Any]:
    loop = asyncio.get_running_loop()
    mine = _pools.get(loop)
    if mine is not None and mine.opening.done() and mine.pool.closed:
        # It failed to open (PostgreSQL was down, and the pool closed itself): a new one.
        mine.closer.cancel()
        mine = None
    if mine is None:
        mine = _pools[loop] = _LoopPool()
    # Done (the usual case): no wait. Otherwise every caller waits for the same opening, and
    # hears its PoolTimeout if it fails.
    await asyncio.shield(mine.opening)
    return mine.pool


async def _tidy(conn: psycopg.AsyncConnection[Any]) -> None:
    """Leave `conn` idle and in autocommit for the next caller, or closed (the pool replaces a
    closed connection). A transaction the caller left open is rolled back, never committed."""
    status = conn.pgconn.transaction_status
    if status == TransactionStatus.IDLE and conn.autocommit:
        return  # the usual case: nothing to undo, no round trip
    try:
        if status == TransactionStatus.ACTIVE:
            # Mid-query (psycopg cancels the query of a cancelled task itself; this is for
            # anything that slips past it). Closing alone would leave the backend running the
            # query, holding its locks, until it next writes to the lost client.
            with contextlib.suppress(Exception):
                await conn.cancel_safe(timeout=CONNECT_TIMEOUT_SECONDS)
        if conn.pgconn.pipeline_status != PipelineStatus.OFF or status in (
            TransactionStatus.ACTIVE,
            TransactionStatus.UNKNOWN,
        ):
            # Mid-query or broken: nothing on it can be trusted.
            await conn.close()
            return
        if status != TransactionStatus.IDLE:
            await conn.rollback()
        if not conn.autocommit:
            await conn.set_autocommit(True)
    except psycopg.Error:
        await conn.close()


@contextlib.asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection of this event loop for one call; raises `psycopg.Error` when unavailable
    (no connection within CONNECT_TIMEOUT_SECONDS)."""
    pool = await _loop_pool()
    conn = await pool.getconn()
    try:
        yield conn
    finally:
        try:
            await _tidy(conn)
        finally:
            _returned_at[conn] = time.monotonic()
            await pool.putconn(conn)


def stats() -> dict[str, int]:
    """psycopg-pool's counters (`get_stats()`) of this process's event-loop connections, summed
    over the loops that opened a pool (Daphne runs one)."""
    total: collections.Counter[str] = collections.Counter()
    for mine in list(_pools.values()):
        total.update(mine.pool.get_stats())
    return dict(total)


def close_all() -> None:
    """Close every pool and connection of every loop, from synchronous code (tests, between
    loops); the next call on a loop opens a new pool.

    The pool of a loop that is idle is closed on that loop; what is left of a loop that is gone
    is closed directly. Called from inside a running loop, it leaves that loop's pool to close
    when the loop ends (its closer task does): cancelling the closer now as well would let the
    loop's teardown interrupt it half-way.
    """
    for loop, mine in list(_pools.items()):
        if loop.is_closed():
            mine.finish()
        elif not loop.is_running():
            mine.closer.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(mine.closer)
    _pools.clear()
