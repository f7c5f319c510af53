"""The live room's WebSocket edge (PROTOCOL.md "WebSocket").

A consumer authenticates, dispatches each client `type` to one service through `HANDLERS`
(mirrored by room.js), and answers with the service's result or error. How events reach the
connection (order, gaps, the heartbeat, Redis outages) is `delivery.RoomDelivery`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import Error as DatabaseError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from facilitation import events, services
from facilitation.delivery import RoomDelivery
from groups.authentication import TOKEN_KEY
from project import closecodes, languages, realtime
from project.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# Frames above this are refused before parsing (Daphne's own frame limit is set higher).
MAX_FRAME_CHARS = 16 * 1024
REF_MAX = 64


def _storable(content: Any) -> bool:
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


class SessionConsumer(RoomDelivery):
    """One member's connection to one session's room."""

    async def connect(self) -> None:
        # A close code only reaches the client after the handshake, so accept first.
        await self.accept()
        self.recent = services.RecentPosts()
        self.user = self.scope.get("user")
        if self.scope.get("haven_unavailable"):
            logger.warning("room: database unavailable while signing in")
            await self.close(code=closecodes.TRY_AGAIN)
            return
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        key = self.scope.get(TOKEN_KEY)
        try:
            if key is not None:
                # Her token checked and the room entered in one database call (issue 20).
                entered = await realtime.run_in_db(
                    services.room_enter_with_token, key=key, session_id=session_id
                )
                self.user, context, state = entered.user, entered.context, entered.state
                self.scope["haven_token_id"] = entered.token_id
            else:
                context, state = await realtime.run_in_db(
                    services.room_enter, actor=self.user, session_id=session_id
                )
        except services.RoomRefused as refused:
            await self.close(code=refused.code)
            return
        except DatabaseError:
            logger.warning("room: database unavailable while entering")
            await self.close(code=closecodes.TRY_AGAIN)
            return
        self.context = context
        # Issue 18: her errors and notices in her language, for this whole connection
        # (RoomDelivery activates it in the broadcast task too).
        self.language = languages.from_headers(
            self.scope.get("headers") or [], chosen=getattr(self.user, "language", None)
        )
        translation.activate(self.language)
        self.refusals = services.Refusals(
            session_id=context.session_id, member_id=context.member_id
        )
        session = self.scope.get("session")
        names = services.room_channel_groups(
            context,
            token_id=self.scope.get("haven_token_id"),
            session_key=getattr(session, "session_key", None),
        )
        await self.join(names)
        await self.start(state)

    async def disconnect(self, code: int) -> None:
        await self.stop()
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
        if not _storable(content):
            await self._error("invalid", _("That contains characters Haven cannot store."), None)
            return
        kind = content.get("type")
        client_id = content.get("client_id")
        ref = client_id if isinstance(client_id, str) and len(client_id) <= REF_MAX else None
        if not isinstance(kind, str):
            await self._error("invalid", _("Every message needs a type."), ref)
            return
        handler = self.HANDLERS.get(kind)
        ref = ref or (kind if len(kind) <= REF_MAX else None)
        if handler is None:
            await self._error("unknown_type", _("Unknown message type."), ref)
            return
        try:
            services.frame_limiter.check(self.context.member_id, kind, timezone.now())
            await handler(self, content)
        except ApplicationError as exc:
            await self._error(exc.code, exc.message, ref, exc.extra)
            if exc.code == services.Verdict.RATE_LIMITED.value and self.refusals.refused(
                kind, timezone.now()
            ):
                self.closing = True
                await self.close(code=closecodes.TOO_MANY)
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

    async def on_message_send(self, content: dict[str, Any]) -> None:
        # The sender hears `ack` before the room hears her message.
        outbox: list[tuple[str, dict[str, Any]]] = []
        try:
            event = await services.message_send(
                actor=self.user,
                context=self.context,
                recent=self.recent,
                outbox=outbox,
                body=content.get("body"),
                content_warning=content.get("content_warning"),
                client_id=content.get("client_id"),
            )
            await self.send_event(
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
        await self.resume(after)

    async def on_presence_set(self, content: dict[str, Any]) -> None:
        await self._call(services.presence_set, status=content.get("status"))

    async def on_support_request(self, content: dict[str, Any]) -> None:
        await self._call(
            services.support_request,
            note=content.get("note"),
            kind=content.get("kind"),
            client_id=content.get("client_id"),
        )

    async def on_support_seen(self, content: dict[str, Any]) -> None:
        await self._call(
            services.support_set_status, request_id=content.get("request_id"), status="seen"
        )

    async def on_support_take(self, content: dict[str, Any]) -> None:
        await self._call(
            services.support_set_status, request_id=content.get("request_id"), status="taken"
        )

    async def on_support_close(self, content: dict[str, Any]) -> None:
        await self._call(
            services.support_set_status, request_id=content.get("request_id"), status="closed"
        )

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
            reason=content.get("reason"),
        )

    async def on_member_mute(self, content: dict[str, Any]) -> None:
        await self._call(
            services.member_mute,
            member_id=content.get("member_id"),
            minutes=content.get("minutes"),
            reason=content.get("reason"),
            tell_room=content.get("tell_room"),
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

    async def on_round_skip(self, content: dict[str, Any]) -> None:
        await self._call(services.round_skip)

    async def on_round_next(self, content: dict[str, Any]) -> None:
        await self._call(services.round_next)

    async def on_notice_dismiss(self, content: dict[str, Any]) -> None:
        await self._call(services.notice_dismiss, notice_id=content.get("notice_id"))

    async def on_checkin_set(self, content: dict[str, Any]) -> None:
        await self._call(
            services.checkin_set,
            moment=content.get("moment"),
            mood=content.get("mood"),
            note=content.get("note"),
            share_note_with_peer_mentors=content.get("share_note_with_peer_mentors"),
        )

    async def on_checkin_skip(self, content: dict[str, Any]) -> None:
        await self._call(services.checkin_skip, moment=content.get("moment"))

    async def on_private_send(self, content: dict[str, Any]) -> None:
        await self._call(
            services.private_send,
            client_id=content.get("client_id"),
            body=content.get("body"),
            member_id=content.get("member_id"),
        )

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
        "round.skip": on_round_skip,
        "round.next": on_round_next,
        "notice.dismiss": on_notice_dismiss,
        "support.seen": on_support_seen,
        "support.take": on_support_take,
        "support.close": on_support_close,
        "checkin.set": on_checkin_set,
        "checkin.skip": on_checkin_skip,
        "private.send": on_private_send,
    }

    async def _error(
        self, code: str, message: str, ref: str | None, extra: dict[str, Any] | None = None
    ) -> None:
        event = events.error(code=code, message=str(message), ref=ref)
        if extra:
            event.update({k: v for k, v in extra.items() if k != "fields"})
            if "fields" in extra:
                event["fields"] = extra["fields"]
        await self.send_event(event)
