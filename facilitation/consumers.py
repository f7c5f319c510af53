"""The live room's WebSocket edge (PROTOCOL.md "WebSocket").

A consumer authenticates, dispatches each client `type` to one service, and forwards the
events the services broadcast. It keeps the durable stream in order and without gaps for its
client: events carry their `seq`, anything out of order or missing (a reordered or lost
broadcast) is filled from the session log, and a heartbeat checks the log's newest seq, so a
broadcast lost in the channel layer costs at most one and a half heartbeats of delay (see
`_broadcasts_stalled`), never a message.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import psycopg
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import Error as DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events, services
from project import asyncdb, realtime
from project.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# Frames above this are refused before parsing (Daphne's own frame limit is set higher).
MAX_FRAME_CHARS = 16 * 1024
REPLAY_CHUNK = 500
LAYER_RETRY_MAX_SECONDS = 5.0
# "Try again later" (the database is unavailable). WebSocket 1013 says the same, but servers
# may not send it through Daphne, so it lives in the application range.
CLOSE_TRY_AGAIN = 4503
# The heartbeat beats each connection once per interval, a tenth of them at a time, and
# serves this many between two turns of the event loop.
HEARTBEAT_SLOTS = 10
HEARTBEAT_SLICE = 50


def auth_session_group(scope: dict[str, Any]) -> str | None:
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    return realtime.auth_session_group(key) if key else None


def _clean_text(content: Any) -> bool:
    """False when a frame holds text Haven cannot store: lone surrogates or NUL characters."""
    stack = [content]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


class Heartbeat:
    """One heartbeat task per event loop (so per server process) for all its connections.

    Every HAVEN_HEARTBEAT_SECONDS each connection's attendance is touched and what it needs is
    read in a handful of queries (`services.room_touch_many`); then each connection fills
    gaps, sends `heartbeat`, or closes. The connections are spread over HEARTBEAT_SLOTS turns
    of the interval, so the process never stops to beat thousands of them at once, and the
    cost per turn does not grow the way one task per connection would.
    """

    def __init__(self) -> None:
        self.connections: set[SessionConsumer] = set()
        self.task: asyncio.Task[None] | None = None
        self.next_slot = 0

    def add(self, consumer: SessionConsumer) -> None:
        consumer.heartbeat_slot = self.next_slot
        self.next_slot = (self.next_slot + 1) % HEARTBEAT_SLOTS
        self.connections.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, consumer: SessionConsumer) -> None:
        self.connections.discard(consumer)

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
                        c.beat(*answers[c.context.attendance_id])
                        for c in live[start : start + HEARTBEAT_SLICE]
                    ),
                    return_exceptions=True,
                )


_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Heartbeat] = (
    weakref.WeakKeyDictionary()
)


def _heartbeat() -> Heartbeat:
    loop = asyncio.get_running_loop()
    if loop not in _heartbeats:
        _heartbeats[loop] = Heartbeat()
    return _heartbeats[loop]


class SessionConsumer(AsyncWebsocketConsumer):
    """One member's connection to one session's room."""

    context: services.RoomContext | None = None
    heartbeat_slot = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' consumer loop, with a channel-layer receive that survives Redis outages.

        Without this, a Redis restart kills every live connection. With it, the connection
        stays open, the heartbeat keeps delivering from the session log, and the channel
        groups are joined again as soon as the layer answers.
        """
        self.scope = scope
        self.layer_failed = False
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self._layer_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.channel_receive = self._resilient_receive
        self.base_send = send
        self.entered = asyncio.Event()
        broadcasts = asyncio.get_running_loop().create_task(self._forward_broadcasts())
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            broadcasts.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                await broadcasts

    async def _forward_broadcasts(self) -> None:
        """Dispatch what the channel layer brings, beside (not between) the client's frames.

        Channels' `await_many_dispatch` takes one message at a time from either source, with a
        new task and an `asyncio.wait` per message, and holds every broadcast while one of
        the client's frames waits for the database. Here the layer has its own loop; order
        within the durable stream is kept by `self.lock`, and nothing is forwarded before the
        connection has sent `session.state`.
        """
        await self.entered.wait()
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
        database call of this consumer goes through `realtime.run_in_db`, which closes stale
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
        for name in list(getattr(self, "joined", [])):
            try:
                await self.channel_layer.group_add(name, self.channel_name)
            except Exception:
                self.layer_failed = True
                return

    async def connect(self) -> None:
        # A close code only reaches the client after the handshake, so accept first.
        await self.accept()
        self.closing = False
        self.joined: list[str] = []
        # (when sent, client_id) of this connection's messages in the flood-limit window.
        self.recent_posts: collections.deque[tuple[datetime, str]] = collections.deque()
        self.lock = asyncio.Lock()
        self.user = self.scope.get("user")
        if self.scope.get("haven_unavailable"):
            logger.warning("room: database unavailable while signing in")
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        try:
            context, state = await realtime.run_in_db(
                services.room_enter, actor=self.user, session_id=session_id
            )
        except services.RoomRefused as refused:
            await self.close(code=refused.code)
            return
        except DatabaseError:
            logger.warning("room: database unavailable while entering")
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        self.context = context
        self.last_sent: int = state["last_seq"]
        # When this connection last got a durable broadcast in order (see `beat`).
        self.last_forward_at = asyncio.get_running_loop().time()
        names = [
            events.session_group(context.session_id),
            events.participant_group(context.session_id, context.member_id),
            realtime.member_group(context.member_id),
            realtime.user_group(context.user_id),
        ]
        if context.is_host:
            names.append(events.hosts_group(context.session_id))
        token_id = self.scope.get("haven_token_id")
        if token_id is not None:
            names.append(realtime.token_group(token_id))
        elif (auth_group := auth_session_group(self.scope)) is not None:
            names.append(auth_group)
        for name in names:
            self.joined.append(name)
            try:
                await self.channel_layer.group_add(name, self.channel_name)
            except Exception:  # Redis down: the heartbeat serves from the log meanwhile
                self.layer_failed = True
        await self.send(text_data=realtime.dumps(state))
        _heartbeat().add(self)
        self.entered.set()

    async def disconnect(self, code: int) -> None:
        self.closing = True
        _heartbeat().discard(self)
        for name in getattr(self, "joined", []):
            try:
                await self.channel_layer.group_discard(name, self.channel_name)
            except Exception:  # the layer may be down; group membership expires by itself
                logger.warning("room: could not leave a channel group")
        if self.context is not None:
            try:
                await realtime.run_in_db(services.room_leave, context=self.context)
            except DatabaseError:
                logger.warning("room: could not record leaving")

    # --- client → server ----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.context is None or self.closing:
            return
        if text_data is None:
            await self._error("invalid", _("Send JSON text frames."), None)
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error("too_long", _("That frame is too large."), None)
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("invalid_json", _("That was not valid JSON."), None)
            return
        if not isinstance(content, dict):
            await self._error("invalid", _("Send a JSON object with a type."), None)
            return
        if not _clean_text(content):
            await self._error("invalid", _("That contains characters Haven cannot store."), None)
            return
        kind = content.get("type")
        client_id = content.get("client_id")
        ref = client_id if isinstance(client_id, str) and len(client_id) <= 64 else None
        if not isinstance(kind, str):
            await self._error("invalid", _("Every message needs a type."), ref)
            return
        handler = self.HANDLERS.get(kind)
        ref = ref or (kind if len(kind) <= 64 else None)
        if handler is None:
            await self._error("unknown_type", _("Unknown message type."), ref)
            return
        try:
            await handler(self, content)
        except ApplicationError as exc:
            await self._error(exc.code, exc.message, ref, exc.extra)
        except DatabaseError:
            logger.warning("room: database unavailable for a %s", kind)
            await self._error(
                "unavailable", _("Could not save that just now. Please try again."), ref
            )
        except Exception:
            logger.exception("room: unexpected failure handling a %s", kind)
            await self._error("server_error", _("Something went wrong. Please try again."), ref)

    async def _call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        return await realtime.run_in_db(service, actor=self.user, context=self.context, **kwargs)

    def _refuse_when_over_the_limit(self, client_id: Any, now: datetime) -> None:
        """Refuse one message too many without asking the database.

        `message_post` counts a member's messages in the database (across her tabs and server
        processes). The messages this connection itself got acked are among them, so when
        they alone fill the window the database would refuse too: a flood from one
        connection is answered here, and never queues behind the room's database work. A
        resend of one of them still goes through, to get its `ack` again.
        """
        horizon = now - services.RATE_LIMIT_WINDOW
        recent = self.recent_posts
        while recent and recent[0][0] < horizon:
            recent.popleft()
        if len(recent) < services.RATE_LIMIT_MESSAGES:
            return
        try:
            resend = str(uuid.UUID(client_id)) in {cid for _sent, cid in recent}
        except (TypeError, ValueError, AttributeError):
            resend = False
        if not resend:
            raise services.rate_limited()

    async def on_message_send(self, content: dict[str, Any]) -> None:
        started = timezone.now()
        self._refuse_when_over_the_limit(content.get("client_id"), started)
        fields = {
            "body": content.get("body"),
            "content_warning": content.get("content_warning"),
            "client_id": content.get("client_id"),
        }
        # The sender hears `ack` before the room hears the message.
        outbox: list[tuple[str, dict[str, Any]]] = []
        try:
            posted = None
            if asyncdb.enabled():
                try:
                    posted = await services.message_post_fast(context=self.context, **fields)
                except psycopg.Error:  # the threaded path below answers `unavailable`
                    posted = None
            if posted is not None:
                event, broadcasts = posted
                outbox.extend(broadcasts)
                created = True
            else:
                event, created = await realtime.run_in_db(
                    services.message_post,
                    outbox=outbox,
                    actor=self.user,
                    context=self.context,
                    **fields,
                )
            if created:
                self.recent_posts.append((started, event["client_id"]))
            await self._send_event(
                events.ack(
                    client_id=event["client_id"], seq=event["seq"], message_id=event["message_id"]
                )
            )
        finally:
            await realtime.publish(outbox)

    async def on_resume(self, content: dict[str, Any]) -> None:
        after = content.get("after_seq")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ApplicationError(_("after_seq must be a whole number."), code="invalid")
        async with self.lock:
            cursor = after
            replayed_to = None
            while True:
                batch = await realtime.run_in_db(
                    services.events_replay,
                    session_id=self.context.session_id,
                    after_seq=cursor,
                    limit=REPLAY_CHUNK,
                )
                for event in batch:
                    await self.send(text_data=realtime.dumps(event))
                    cursor = replayed_to = event["seq"]
                if len(batch) < REPLAY_CHUNK:
                    break
            # Only what was really sent moves the stream on: an after_seq past the end of the
            # log must not make this connection skip the events still to come.
            if replayed_to is not None:
                self.last_sent = max(self.last_sent, replayed_to)
            await self._send_event(events.resume_done(last_seq=self.last_sent))

    async def on_presence_set(self, content: dict[str, Any]) -> None:
        await self._call(services.presence_set, status=content.get("status"))

    async def on_support_request(self, content: dict[str, Any]) -> None:
        await self._call(services.support_request, note=content.get("note"))

    async def on_round_pass(self, content: dict[str, Any]) -> None:
        await self._call(services.round_take_turn, passed=True)

    async def on_round_done(self, content: dict[str, Any]) -> None:
        await self._call(services.round_take_turn, passed=False)

    async def on_message_hide(self, content: dict[str, Any]) -> None:
        await self._call(
            services.message_hide,
            message_id=content.get("message_id"),
            reason=content.get("reason"),
        )

    async def on_message_set_warning(self, content: dict[str, Any]) -> None:
        if "content_warning" not in content:
            raise ApplicationError(_("Give a content_warning, or null."), code="invalid")
        await self._call(
            services.message_set_warning,
            message_id=content.get("message_id"),
            content_warning=content.get("content_warning"),
        )

    async def on_member_mute(self, content: dict[str, Any]) -> None:
        await self._call(
            services.member_mute,
            member_id=content.get("member_id"),
            minutes=content.get("minutes"),
            reason=content.get("reason"),
        )

    async def on_member_unmute(self, content: dict[str, Any]) -> None:
        await self._call(services.member_unmute, member_id=content.get("member_id"))

    async def on_member_remove(self, content: dict[str, Any]) -> None:
        await self._call(
            services.member_remove_from_session,
            member_id=content.get("member_id"),
            reason=content.get("reason"),
        )

    async def on_session_set_status(self, content: dict[str, Any]) -> None:
        await self._call(
            services.room_set_status, status=content.get("status"), note=content.get("note")
        )

    async def on_round_start(self, content: dict[str, Any]) -> None:
        await self._call(services.round_start, prompt=content.get("prompt"))

    async def on_round_end(self, content: dict[str, Any]) -> None:
        await self._call(services.round_end)

    HANDLERS: dict[str, Callable[[SessionConsumer, dict[str, Any]], Awaitable[None]]] = {
        "message.send": on_message_send,
        "resume": on_resume,
        "presence.set": on_presence_set,
        "support.request": on_support_request,
        "round.pass": on_round_pass,
        "round.done": on_round_done,
        "message.hide": on_message_hide,
        "message.set_warning": on_message_set_warning,
        "member.mute": on_member_mute,
        "member.unmute": on_member_unmute,
        "member.remove": on_member_remove,
        "session.set_status": on_session_set_status,
        "round.start": on_round_start,
        "round.end": on_round_end,
    }

    # --- server → client ----------------------------------------------------------------

    async def haven_forward(self, message: dict[str, Any]) -> None:
        """Forward a broadcast as it is; durable ones strictly in seq order, gaps filled."""
        if self.closing or self.context is None:
            return
        seq = message.get("seq")
        if seq is None:
            await self.send(text_data=message["text"])
            return
        async with self.lock:
            if seq <= self.last_sent:
                return
            if seq > self.last_sent + 1:
                await self._fill(until=seq - 1)
            if seq == self.last_sent + 1:
                await self.send(text_data=message["text"])
                self.last_sent = seq
                self.last_forward_at = asyncio.get_running_loop().time()

    async def haven_close(self, message: dict[str, Any]) -> None:
        self.closing = True
        await self.close(code=message["code"])

    async def _fill(self, *, until: int) -> None:
        """Send durable events from the log up to `until` (caller holds the lock)."""
        while self.last_sent < until:
            batch = await realtime.run_in_db(
                services.events_replay,
                session_id=self.context.session_id,
                after_seq=self.last_sent,
                limit=min(REPLAY_CHUNK, until - self.last_sent),
            )
            if not batch:
                return
            for event in batch:
                await self.send(text_data=realtime.dumps(event))
                self.last_sent = event["seq"]

    def as_beat(self) -> services.Beat:
        return services.Beat(
            attendance_id=self.context.attendance_id,
            session_id=self.context.session_id,
            member_id=self.context.member_id,
            user_id=self.context.user_id,
            token_id=self.scope.get("haven_token_id"),
        )

    async def beat(self, newest: int, close_code: int | None) -> None:
        """One heartbeat for this connection, with what `room_touch_many` answered."""
        async with self.lock:
            if self.closing:
                return
            if close_code is not None and close_code != services.CLOSE_NOT_OPEN:
                # Signed out or removed: nothing more reaches her, not even the backlog.
                self.closing = True
                await self.close(code=close_code)
                return
            if newest > self.last_sent and self._broadcasts_stalled():
                await self._fill(until=newest)
            if close_code is not None:
                self.closing = True
                await self.close(code=close_code)
                return
            await self._send_event(events.heartbeat(last_seq=self.last_sent))

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

    async def _send_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=realtime.dumps(event))

    async def _error(
        self, code: str, message: str, ref: str | None, extra: dict[str, Any] | None = None
    ) -> None:
        event = events.error(code=code, message=str(message), ref=ref)
        if extra:
            event.update({k: v for k, v in extra.items() if k != "fields"})
            if "fields" in extra:
                event["fields"] = extra["fields"]
        await self._send_event(event)
