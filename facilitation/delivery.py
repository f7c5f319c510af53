"""How the live room's events reach a connection, in order and without gaps.

Events carry their `seq`; anything out of order or missing (a reordered or lost broadcast) is
filled from the session log, and one heartbeat per process checks the log's newest seq, so a
broadcast lost in the channel layer costs at most one and a half heartbeats of delay (see
`RoomDelivery._broadcasts_stalled`), never a message. The channel-layer receive survives a
Redis outage. `consumers.SessionConsumer` mixes `RoomDelivery` in; this module never imports
the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import Error as DatabaseError
from django.utils import translation

from facilitation import events, services
from facilitation.log import ABOUT, OTHERS_TEXT, REPLAY_LIMIT, events_replay
from project import closecodes, metrics, realtime

logger = logging.getLogger(__name__)

LAYER_RETRY_MAX_SECONDS = 5.0
# One `resume` replays at most this many events; older ones come back as `history.hidden`.
RESUME_RANGE_MAX = 1000
# The heartbeat beats each connection once per interval, a tenth of them at a time, and
# serves this many between two turns of the event loop.
HEARTBEAT_SLOTS = 10
HEARTBEAT_SLICE = 50


class Heartbeat:
    """One heartbeat task per event loop (so per server process) for all its connections.

    Every HAVEN_HEARTBEAT_SECONDS each connection's attendance is touched and what it needs is
    read in a handful of queries (`services.room_touch_many`); then each connection fills
    gaps, sends `heartbeat`, or closes. The connections are spread over HEARTBEAT_SLOTS turns
    of the interval, so the process never stops to beat thousands of them at once, and the
    cost per turn does not grow the way one task per connection would.
    """

    def __init__(self) -> None:
        self.connections: set[RoomDelivery] = set()
        self.task: asyncio.Task[None] | None = None
        self.next_slot = 0

    def add(self, connection: RoomDelivery) -> None:
        connection.heartbeat_slot = self.next_slot
        self.next_slot = (self.next_slot + 1) % HEARTBEAT_SLOTS
        self.connections.add(connection)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, connection: RoomDelivery) -> None:
        self.connections.discard(connection)

    async def run(self) -> None:
        turn = 0
        while self.connections:
            await asyncio.sleep(settings.HAVEN_HEARTBEAT_SECONDS / HEARTBEAT_SLOTS)
            turn = (turn + 1) % HEARTBEAT_SLOTS
            live = [
                c
                for c in self.connections
                if c.heartbeat_slot == turn and not c.closing and c.context is not None
            ]
            if not live:
                continue
            beats = [c.as_beat() for c in live]
            try:
                answers = await realtime.run_in_db(services.room_touch_many, beats=beats)
            except DatabaseError:
                continue
            # A few connections at a time, so the room's messages are forwarded in between.
            for start in range(0, len(live), HEARTBEAT_SLICE):
                await asyncio.gather(
                    *(
                        c.beat(answers[c.context.attendance_id])
                        for c in live[start : start + HEARTBEAT_SLICE]
                    ),
                    return_exceptions=True,
                )


_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Heartbeat] = (
    weakref.WeakKeyDictionary()
)


def heartbeat() -> Heartbeat:
    """This event loop's heartbeat."""
    loop = asyncio.get_running_loop()
    if loop not in _heartbeats:
        _heartbeats[loop] = Heartbeat()
    return _heartbeats[loop]


class RoomDelivery(AsyncWebsocketConsumer):
    """The delivery half of a room connection: receive, order, fill, beat, replay.

    The consumer sets `context` once the room has let her in, then calls `join` and `start`.
    """

    context: services.RoomContext | None = None
    language = settings.LANGUAGE_CODE
    heartbeat_slot = 0
    closing = False
    resuming = False
    # Counted in `metrics.WEBSOCKETS` (from `start` until `stop`).
    counted = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' consumer loop, with a channel-layer receive that survives Redis outages.

        Without this, a Redis restart kills every live connection. With it, the connection
        stays open, the heartbeat keeps delivering from the session log, and the channel
        groups are joined again as soon as the layer answers.
        """
        self.scope = scope
        self.layer_failed = False
        self.joined: list[str] = []
        self.lock = asyncio.Lock()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self._layer_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.channel_receive = self._resilient_receive
        self.base_send = send
        # Started by `start`: a connection still entering (or refused) holds no task for it.
        self.broadcasts: asyncio.Task[None] | None = None
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            broadcasts = self.broadcasts
            if broadcasts is not None:
                broadcasts.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                    await broadcasts

    async def _forward_broadcasts(self) -> None:
        """Dispatch what the channel layer brings, beside (not between) the client's frames.

        Channels' `await_many_dispatch` takes one message at a time from either source, with a
        new task and an `asyncio.wait` per message, and holds every broadcast while one of
        the client's frames waits for the database. Here the layer has its own loop; order
        within the durable stream is kept by `self.lock`, and nothing is forwarded before the
        connection has sent `session.state` (`start` starts this task after sending it).
        """
        translation.activate(self.language)
        while True:
            message = await self.channel_receive()
            try:
                await self.dispatch(message)
            except StopConsumer:
                return
            except Exception:
                logger.exception("room: unexpected failure forwarding a broadcast")

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler.

        That call is a round trip to the database thread for every frame and every delivered
        broadcast, which made it the largest cost of fan-out (docs/performance.md). Every
        database call of the room goes through `realtime.run_in_db`, which closes stale
        connections before and after itself, so there is nothing left for it to close.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _resilient_receive(self) -> dict[str, Any]:
        delay = 0.2
        while True:
            try:
                message = await self._layer_receive()
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self.layer_failed:
                    logger.warning("room: channel layer unavailable; serving from the log")
                    metrics.layer_failed("receive")
                self.layer_failed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAYER_RETRY_MAX_SECONDS)
                continue
            if self.layer_failed:
                self.layer_failed = False
                await self._rejoin()
            return message

    async def _rejoin(self) -> None:
        """After a layer outage (a restarted Redis forgets its groups), join them again."""
        for name in list(self.joined):
            try:
                await self.channel_layer.group_add(name, self.channel_name)
            except Exception:
                self.layer_failed = True
                metrics.layer_failed("join")
                return

    async def join(self, names: list[str]) -> None:
        """Join the connection's channel groups; with Redis down, the heartbeat serves from
        the log meanwhile and the groups are joined when it returns."""
        for name in names:
            self.joined.append(name)
            try:
                await self.channel_layer.group_add(name, self.channel_name)
            except Exception:
                self.layer_failed = True
                metrics.layer_failed("join")

    async def start(self, state: dict[str, Any]) -> None:
        """Send `session.state`, then let broadcasts and the heartbeat through."""
        self.last_sent: int = state["last_seq"]
        # When this connection last got a durable broadcast in order (see `beat`).
        self.last_forward_at = asyncio.get_running_loop().time()
        await self.send_event(state)
        heartbeat().add(self)
        self.broadcasts = asyncio.get_running_loop().create_task(self._forward_broadcasts())
        self.counted = True
        metrics.WEBSOCKETS.inc()

    async def stop(self) -> None:
        """Stop delivering: leave the heartbeat and every channel group."""
        self.closing = True
        heartbeat().discard(self)
        if self.counted:
            self.counted = False
            metrics.WEBSOCKETS.dec()
        for name in self.joined:
            try:
                await self.channel_layer.group_discard(name, self.channel_name)
            except Exception:  # the layer may be down; group membership expires by itself
                logger.warning("room: could not leave a channel group")
                metrics.layer_failed("leave")

    async def resume(self, after: int) -> None:
        """Replay the log after `after` to this connection, then her active private notices
        (oldest first; clients drop copies by `notice_id`), then the private messages of this
        session (`selectors.private_replay`; copies dropped by `message_id`), then
        `resume.done`.

        One at a time per connection, and at most RESUME_RANGE_MAX events back from where the
        connection is; what she may not read (`context.history_after`) or what is older than
        that comes back as one `history.hidden` marker. All of it is read in one call to the
        database threads (`services.resume_read`), then sent.
        """
        if self.resuming:
            raise services.rate_limited()
        self.resuming = True
        try:
            await self._resume(after)
        finally:
            self.resuming = False

    async def _resume(self, after: int) -> None:
        async with self.lock:
            history_after = max(self.context.history_after, self.last_sent - RESUME_RANGE_MAX)
            read = await realtime.run_in_db(
                services.resume_read,
                context=self.context,
                after_seq=after,
                history_after=history_after,
            )
            replayed_to = None
            for event in read.events:
                await self.send(text_data=realtime.dumps(event))
                replayed_to = event["seq"]
            # Only what was really sent moves the stream on: an after_seq past the end of the
            # log must not make this connection skip the events still to come.
            if replayed_to is not None:
                self.last_sent = max(self.last_sent, replayed_to)
            for notice in read.notices:
                await self.send_event(notice)
            for message in read.private:
                await self.send_event(message)
            await self.send_event(events.resume_done(last_seq=self.last_sent))

    # --- channel-layer messages ---------------------------------------------------------

    async def haven_forward(self, message: dict[str, Any]) -> None:
        """Forward a broadcast as it is; durable ones strictly in seq order, gaps filled.

        An event about one member carries the text the rest of the room reads beside its own
        (`log.OTHERS_TEXT`): one key lookup per event decides, nothing is parsed.
        """
        if self.closing or self.context is None:
            return
        seq = message.get("seq")
        if seq is None:
            text = message["text"]
            if events.WITHOUT_NOTE in message and not self.context.reads_notes:
                text = message[events.WITHOUT_NOTE]
            await self.send(text_data=text)
            metrics.DELIVERIES.inc()
            return
        async with self.lock:
            if seq <= self.last_sent:
                return
            if seq > self.last_sent + 1:
                await self._fill(until=seq - 1)
            if seq == self.last_sent + 1:
                text = message["text"]
                if OTHERS_TEXT in message and not events.reads_whole(
                    self.context.reader, message[ABOUT]
                ):
                    text = message[OTHERS_TEXT]
                await self.send(text_data=text)
                metrics.DELIVERIES.inc()
                self.last_sent = seq
                self.last_forward_at = asyncio.get_running_loop().time()

    async def haven_close(self, message: dict[str, Any]) -> None:
        self.closing = True
        await self.close(code=message["code"])

    async def haven_rights(self, message: dict[str, Any]) -> None:
        """Her role or the session's co-hosts changed: follow her rights now."""
        if self.closing or self.context is None:
            return
        async with self.lock:
            await self._follow_rights()

    async def _follow_rights(self) -> None:
        """Read her rights again (caller holds the lock): join or leave the hosts' group, and
        send her page a fresh `session.state`; close if she may no longer stay."""
        try:
            context, state = await realtime.run_in_db(services.room_rights, context=self.context)
        except services.RoomRefused as refused:
            self.closing = True
            await self.close(code=refused.code)
            return
        hosts = events.hosts_group(context.session_id)
        if context.is_host and not self.context.is_host:
            await self.join([hosts])
        elif not context.is_host and self.context.is_host:
            self.joined = [name for name in self.joined if name != hosts]
            with contextlib.suppress(Exception):  # the layer may be down; it expires by itself
                await self.channel_layer.group_discard(hosts, self.channel_name)
        self.context = context
        state["last_seq"] = self.last_sent
        await self.send_event(state)

    async def _fill(self, *, until: int) -> None:
        """Send durable events from the log up to `until` (caller holds the lock)."""
        while self.last_sent < until:
            batch = await realtime.run_in_db(
                events_replay,
                session_id=self.context.session_id,
                after_seq=self.last_sent,
                limit=min(REPLAY_LIMIT, until - self.last_sent),
                reader=self.context.reader,
            )
            if not batch:
                return
            for event in batch:
                await self.send(text_data=realtime.dumps(event))
                self.last_sent = event["seq"]

    # --- the heartbeat ------------------------------------------------------------------

    def as_beat(self) -> services.Beat:
        token_id = self.scope.get("haven_token_id")
        session = self.scope.get("session")
        return services.Beat(
            attendance_id=self.context.attendance_id,
            session_id=self.context.session_id,
            member_id=self.context.member_id,
            user_id=self.context.user_id,
            token_id=token_id,
            session_key=getattr(session, "session_key", None) if token_id is None else None,
            is_host=self.context.is_host,
        )

    async def beat(self, answer: services.BeatAnswer) -> None:
        """One heartbeat for this connection, with what `room_touch_many` answered."""
        newest, close_code = answer.last_seq, answer.close_code
        async with self.lock:
            if self.closing:
                return
            if close_code is None and answer.is_host != self.context.is_host:
                await self._follow_rights()
                if self.closing:
                    return
            if close_code is not None and close_code != closecodes.NOT_OPEN:
                # Signed out or removed: nothing more reaches her, not even the backlog.
                self.closing = True
                await self.close(code=close_code)
                return
            if newest > self.last_sent and self._broadcasts_stalled():
                metrics.HEARTBEAT_FILLS.inc()
                await self._fill(until=newest)
            if close_code is not None:
                self.closing = True
                await self.close(code=close_code)
                return
            await self.send_event(events.heartbeat(last_seq=self.last_sent))

    def _broadcasts_stalled(self) -> bool:
        """Is this connection behind the log with nothing arriving (a lost broadcast)?

        Under load every connection lags the log a little: those broadcasts are on their way,
        and filling from the database for each connection at every heartbeat would add a
        query per connection exactly when the process is busiest. A gap in the middle of the
        stream is filled as soon as the next broadcast shows it (`haven_forward`); what the
        heartbeat must catch is a lost broadcast with nothing after it, i.e. a connection
        behind the log that has received nothing for half a heartbeat interval.
        """
        quiet = asyncio.get_running_loop().time() - self.last_forward_at
        return quiet >= settings.HAVEN_HEARTBEAT_SECONDS / 2

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=realtime.dumps(event))
