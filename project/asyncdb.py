"""Asynchronous PostgreSQL connections for the live room's most frequent write, `message.send`.

Every other database call of the room runs on a thread (`realtime.run_in_db`). A message is the
one call made a hundred times a second in a busy process, and on a thread it waited for the
event loop's share of the GIL at every step (docs/performance.md). `facilitation.services.
message_post_fast` runs it on the event loop instead, on these connections.

A few connections per event loop (`HAVEN_DB_THREADS`, default 4), opened on first use with the
settings of the `default` database and kept open; a connection that fails is dropped, and the
next call opens a new one. Only on PostgreSQL, and only while `HAVEN_FAST_POST` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection as django_connection

CONNECT_TIMEOUT_SECONDS = 3


class _LoopConnections:
    """The connections of one event loop: at most `size` open, each used by one call at a time."""

    def __init__(self, size: int) -> None:
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(size)
        self.all: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections] = (
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


@contextlib.asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection of this event loop for one call; raises `psycopg.Error` when unavailable."""
    loop = asyncio.get_running_loop()
    mine = _loops.get(loop)
    if mine is None:
        mine = _loops[loop] = _LoopConnections(max(1, settings.HAVEN_DB_THREADS))
    async with mine.slots:
        conn = mine.idle.pop() if mine.idle else None
        if conn is None or conn.closed:
            conn = await psycopg.AsyncConnection.connect(**_connect_kwargs())
            mine.all.add(conn)
        try:
            yield conn
        except BaseException:
            await conn.close()
            raise
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.close()
        else:
            mine.idle.append(conn)


def close_all() -> None:
    """Close every connection of every loop, from synchronous code (tests, between loops)."""
    for mine in list(_loops.values()):
        for conn in list(mine.all):
            with contextlib.suppress(Exception):
                conn.pgconn.finish()
        mine.idle.clear()
    _loops.clear()
