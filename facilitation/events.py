"""Builders for the JSON events the live room sends, and the names of the groups they go to.

Every builder returns a plain JSON-able dict (tests round-trip each one). Durable events get
their `seq` when they are appended to the session log (`services.event_append`); the rest are
sent as they are. Recipients are a security decision (ARCHITECTURE.md rule 5): public session
events go to `session_group`, everything private to a per-member or per-role group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.fields import DateTimeField

_STAMP = DateTimeField()


def stamp(moment: datetime | None) -> str | None:
    return _STAMP.to_representation(moment) if moment is not None else None


# --- group names -----------------------------------------------------------------------------


def session_group(session_id: int) -> str:
    """Every connection in one session's room (public session events only)."""
    return f"session.{session_id}"


def hosts_group(session_id: int) -> str:
    """The hosts present in one session's room (support requests, concern alerts)."""
    return f"session.{session_id}.hosts"


def participant_group(session_id: int, member_id: int) -> str:
    """One member's connections to one session (notices, removal from this session)."""
    return f"session.{session_id}.member.{member_id}"


# --- durable events (get a seq) --------------------------------------------------------------


def author(*, member_id: int, display_name: str, role: str) -> dict[str, Any]:
    return {"member_id": member_id, "display_name": display_name, "role": role}


def message(
    *,
    message_id: int,
    author_data: dict[str, Any] | None,
    body: str | None,
    content_warning: dict[str, Any] | None,
    sent_at: datetime,
    client_id: str,
    hidden: bool = False,
) -> dict[str, Any]:
    return {
        "type": "message",
        "message_id": message_id,
        "author": author_data,
        "body": None if hidden else body,
        "content_warning": content_warning,
        "sent_at": stamp(sent_at),
        "client_id": client_id,
        "hidden": hidden,
    }


def message_hidden(*, message_id: int) -> dict[str, Any]:
    return {"type": "message.hidden", "message_id": message_id}


def message_warning_set(
    *, message_id: int, content_warning: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "type": "message.warning_set",
        "message_id": message_id,
        "content_warning": content_warning,
    }


def member_muted(*, member_id: int, until: datetime) -> dict[str, Any]:
    return {"type": "member.muted", "member_id": member_id, "until": stamp(until)}


def member_unmuted(*, member_id: int) -> dict[str, Any]:
    return {"type": "member.unmuted", "member_id": member_id, "until": None}


def member_removed(*, member_id: int) -> dict[str, Any]:
    return {"type": "member.removed", "member_id": member_id}


def session_status(*, status: str, note: str | None) -> dict[str, Any]:
    return {"type": "session.status", "status": status, "note": note}


def round_started(*, prompt: str, order: list[int], current: int | None) -> dict[str, Any]:
    return {"type": "round.started", "prompt": prompt, "order": order, "current": current}


def round_turn(*, current: int | None, previous: int | None, passed: bool) -> dict[str, Any]:
    return {"type": "round.turn", "current": current, "previous": previous, "passed": passed}


def round_ended() -> dict[str, Any]:
    return {"type": "round.ended"}


# --- events that are not kept ----------------------------------------------------------------


def presence(*, member_id: int, display_name: str, role: str, status: str) -> dict[str, Any]:
    return {
        "type": "presence",
        "member_id": member_id,
        "display_name": display_name,
        "role": role,
        "status": status,
    }


def support_requested(*, member_id: int, display_name: str, note: str | None) -> dict[str, Any]:
    return {
        "type": "support.requested",
        "member_id": member_id,
        "display_name": display_name,
        "note": note,
    }


def notice(*, code: str, message: str) -> dict[str, Any]:
    return {"type": "notice", "code": code, "message": message}


def ack(*, client_id: str, seq: int, message_id: int) -> dict[str, Any]:
    return {"type": "ack", "client_id": client_id, "seq": seq, "message_id": message_id}


def resume_done(*, last_seq: int) -> dict[str, Any]:
    return {"type": "resume.done", "last_seq": last_seq}


def heartbeat(*, last_seq: int) -> dict[str, Any]:
    return {"type": "heartbeat", "last_seq": last_seq}


def error(*, code: str, message: str, ref: str | None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "ref": ref}
