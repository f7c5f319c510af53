"""The only module that talks to the channel layer.

Services call `broadcast_on_commit` with a group name and an event; the event is serialised
to JSON once, here, and consumers forward that text as it is (ARCHITECTURE.md rule 9). Private
events go to per-member or per-user groups, never through a session group (rule 5).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from project import metrics

logger = logging.getLogger(__name__)

# Channel-layer message type handled by every consumer: forward `text` to the socket.
FORWARD = "haven.forward"
# Channel-layer message type asking a consumer to close its socket with `code`.
CLOSE = "haven.close"
# Channel-layer message type telling a consumer that its member's rights may have changed (her
# role, a session's co-host list): it reads them again and follows at once.
RIGHTS = "haven.rights"


# The name of every group of one person's connections begins with this: her account's, her
# membership's, her token's or browser session's, her part of one session's room. The Redis
# channel layer carries them all on one shared channel (project/layers.py); a room's own groups
# (everyone in it, its hosts) each have a channel of their own.
PERSONAL = "one."


def user_group(user_id: int) -> str:
    """Every live connection of one account (logout, deactivation close them all)."""
    return f"{PERSONAL}user.{user_id}"


def member_group(member_id: int) -> str:
    """Every live connection of one membership (mute, removal, private notices)."""
    return f"{PERSONAL}member.{member_id}"


def token_group(token_id: int) -> str:
    """Every live connection opened with one API token (revoking it closes them)."""
    return f"{PERSONAL}token.{token_id}"


def auth_session_group(session_key: str) -> str:
    """Every live connection opened with one signed-in browser session (logout closes them)."""
    digest = hashlib.sha256(session_key.encode("utf-8")).hexdigest()[:32]
    return f"{PERSONAL}authsession.{digest}"


def dumps(event: dict[str, Any]) -> str:
    """Serialise an event once; raises for anything that is not plain JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


T = TypeVar("T")

# Set by `run_in_db`: broadcasts of a database call made from the event loop wait here and are
# published by the loop itself once the call returns, instead of each making the database
# thread wait for a round trip through the loop (`async_to_sync`).
_outbox: contextvars.ContextVar[list[tuple[str, dict[str, Any]]] | None] = contextvars.ContextVar(
    "haven_outbox", default=None
)


def send_now(group: str, message: dict[str, Any]) -> None:
    outbox = _outbox.get()
    if outbox is not None:
        outbox.append((group, message))
        return
    async_to_sync(publish)([(group, message)])


async def publish(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send what a database call broadcast, in order, from the event loop."""
    if not messages:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    for group, message in messages:
        try:
            await layer.group_send(group, message)
        except Exception as exc:  # the durable log, not the layer, is the source of truth
            # The fast path failed (Redis down, channel full). Clients recover with `resume`.
            # The error's class only: its text could quote what was sent.
            logger.warning(
                "realtime: broadcast to a group failed (%s); clients will resume",
                type(exc).__name__,
            )
            metrics.layer_failed("send")


@functools.cache
def _db_executor() -> ThreadPoolExecutor | None:
    """The threads the live room's database calls run on; None: Channels' single one.

    SQLite allows one writer at a time, so its calls stay on one thread. On PostgreSQL a small
    fixed pool (HAVEN_DB_THREADS, each thread keeping one pooled connection between its calls:
    `_in_db_thread`) lets one call's wait for the database overlap with others'.
    """
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") or settings.HAVEN_DB_THREADS < 1:
        return None
    return ThreadPoolExecutor(
        max_workers=settings.HAVEN_DB_THREADS,
        thread_name_prefix="haven-db",
        initializer=_keep_connection_of_this_thread,
    )


# A database thread gives its connection back to the pool after this long, as the pool's own
# connections age out, so no PostgreSQL backend lives for ever behind one thread.
KEEP_CONNECTION_SECONDS = 300.0

# The connection (Django's wrapper) of every database thread started, for `stop_db_threads`.
_kept: list[BaseDatabaseWrapper] = []


def _keep_connection_of_this_thread() -> None:
    _kept.append(connections[DEFAULT_DB_ALIAS])


def stop_db_threads(*, cancel_queued: bool = False) -> None:
    """Stop the database threads, waiting for their running calls, and give the connections
    they kept back to the pool (blocking). The next `run_in_db` starts new threads, unless the
    process is stopping (`run_last_in_db`)."""
    executor = _db_executor() if _db_executor.cache_info().currsize else None
    if executor is None:
        return
    executor.shutdown(wait=True, cancel_futures=cancel_queued)
    _db_executor.cache_clear()
    while _kept:
        # Each thread has ended, so nothing else uses its connection any more.
        connection = _kept.pop()
        connection.inc_thread_sharing()
        try:
            connection.close()
        finally:
            connection.dec_thread_sharing()


def _in_db_thread(func: Callable[[], T]) -> T:
    """Run one room call on a database thread, which keeps its connection for the next one.

    Issue 20: giving the pooled connection back after every call and taking one again at the
    next (what `close_old_connections` does with CONN_MAX_AGE=0) cost about 120 µs of the
    process's CPU per call, more than most of the calls' statements. The thread gives it back
    only when it cannot be trusted as it is: after any database error (a PostgreSQL restart
    breaks it: that call fails as "unavailable", as a dead connection from the pool would, and
    the next takes a fresh one), when a transaction or a changed autocommit was left behind,
    and after KEEP_CONNECTION_SECONDS.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        return func()
    finally:
        if connection.connection is not None and (
            connection.errors_occurred
            or connection.in_atomic_block
            or not connection.get_autocommit()
            or (
                connection.close_at is not None
                and time.monotonic() - connection.close_at > KEEP_CONNECTION_SECONDS
            )
        ):
            connection.close()


async def run_in_db(
    func: Callable[..., T],
    /,
    *,
    outbox: list[tuple[str, dict[str, Any]]] | None = None,
    **kwargs: Any,
) -> T:
    """Run a database function from the event loop, then publish what it broadcast.

    On PostgreSQL the calls of one process run on a few threads (`_db_executor`), so one
    connection's database wait does not hold up every other connection of the process; row
    locks order the writers of a room. Broadcasts go out after the call returns, in the order
    its transactions committed; a caller that passes its own `outbox` publishes it itself
    (`publish`), e.g. after answering its client first.

    A call runs in a copy of the caller's context (her language, the outbox). As with asgiref,
    a caller cancelled while its call runs waits for the call to finish: a write is never left
    half-known.
    """
    if _stopping.is_set():
        # `run_last_in_db` ran or is running: nothing else may write after it.
        raise OperationalError("this server process is stopping")
    collected: list[tuple[str, dict[str, Any]]] = [] if outbox is None else outbox
    token = _outbox.set(collected)
    executor = _db_executor()
    try:
        if executor is None:
            return await database_sync_to_async(func)(**kwargs)
        context = contextvars.copy_context()
        call = functools.partial(context.run, _in_db_thread, functools.partial(func, **kwargs))
        running = asyncio.get_running_loop().run_in_executor(executor, call)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            if running.done():
                raise
            return await running
    finally:
        _outbox.reset(token)
        if outbox is None:
            await publish(collected)


# Set once by `run_last_in_db`: the process is stopping and starts no database call any more.
_stopping = threading.Event()


async def run_last_in_db(func: Callable[..., T], /, **kwargs: Any) -> T:
    """Run one database call after every other of this process, as it stops: no call starts
    after this one is asked for (`run_in_db` raises `OperationalError`, a `DatabaseError`,
    which every caller takes as the database being unavailable), the queued ones are dropped
    (Daphne has cancelled the connections waiting for them), the running ones finish, then
    `func` runs and what it broadcast is published. So nothing it closes can be opened again
    behind it."""
    _stopping.set()
    if _db_executor() is not None:
        await asyncio.to_thread(stop_db_threads, cancel_queued=True)
        call = database_sync_to_async(func, thread_sensitive=False)
    else:
        call = database_sync_to_async(func)
    collected: list[tuple[str, dict[str, Any]]] = []
    token = _outbox.set(collected)
    try:
        return await call(**kwargs)
    finally:
        _outbox.reset(token)
        await publish(collected)


def forward_message(event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message carrying `event`, serialised once for every recipient.

    Durable events also carry their `seq` beside the text, so consumers can keep order and
    fill gaps without parsing the JSON again.
    """
    message: dict[str, Any] = {"type": FORWARD, "text": dumps(event)}
    if "seq" in event:
        message["seq"] = event["seq"]
    return message


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to every connection in `group` once the current transaction commits."""
    message = forward_message(event)
    transaction.on_commit(lambda: send_now(group, message))


def close_on_commit(group: str, code: int) -> None:
    """Close every connection in `group` with `code` once the current transaction commits."""
    message = {"type": CLOSE, "code": code}
    transaction.on_commit(lambda: send_now(group, message))


def rights_changed_on_commit(group: str) -> None:
    """Ask every connection in `group` to read its member's rights again, after commit."""
    message = {"type": RIGHTS}
    transaction.on_commit(lambda: send_now(group, message))


# A group nobody joins: `/readyz` sends to it to learn whether the layer answers.
READINESS_GROUP = "haven.readyz"


async def layer_reachable(*, timeout: float = 2.0) -> bool:
    """Does the channel layer take a message now (Redis up)? For `/readyz`; never raises."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await asyncio.wait_for(layer.group_send(READINESS_GROUP, {"type": RIGHTS}), timeout)
    except Exception:
        return False
    return True
