"""Builders for the JSON events the live room sends, and the names of the groups they go to.

Every builder returns a plain JSON-able dict (tests round-trip each one). Durable events get
their `seq` when they are appended to the session log (`facilitation.log.event_append`); the
rest are sent as they are. The log's replay rebuilds message events from their rows here too
(`message_from_row`), so a replayed event and a live one are built by the same code.
Recipients are a security decision (ARCHITECTURE.md rule 5): public session events go to
`session_group`, everything private to a per-member or per-role group.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rest_framework.fields import DateTimeField

if TYPE_CHECKING:
    from facilitation.models import Message

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


def with_seq(event: dict[str, Any], seq: int) -> dict[str, Any]:
    """A durable event as the room sends it: `type`, then `seq`, then its fields."""
    fields = {k: v for k, v in event.items() if k not in {"type", "seq"}}
    return {"type": event["type"], "seq": seq, **fields}


def message_from_row(row: Message, seq: int) -> dict[str, Any]:
    """The `message` event of a stored message (replay, a resend's answer): a hidden or
    purged body stays hidden."""
    member = row.author
    author_data = (
        author(member_id=member.pk, display_name=member.display_name, role=member.role)
        if member is not None
        else None
    )
    # Held by an open concern looks exactly like purged: nobody learns which one is held.
    hidden = row.hidden_at is not None or row.purged_at is not None or row.held_at is not None
    warning = row.content_warning
    if warning is not None and (row.purged_at or row.held_at):
        warning = {**warning, "note": None}
    event = message(
        message_id=row.pk,
        author_data=author_data,
        body=None if hidden else row.body,
        content_warning=warning,
        sent_at=row.sent_at,
        client_id=str(row.client_id),
        hidden=hidden,
    )
    return with_seq(event, seq)


def warning_from_row(row: Message, seq: int) -> dict[str, Any]:
    """The replayed `message.warning_set` of a stored message; a purged one loses its note."""
    warning = None if row.purged_at or row.held_at else row.content_warning
    return with_seq(message_warning_set(message_id=row.pk, content_warning=warning), seq)


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


def history_hidden(*, seq: int) -> dict[str, Any]:
    """To one reader of the log, in place of every event up to `seq` that is not hers to read
    (said before she came, or older than one resume may ask for). It carries that `seq`, so
    her client moves on past it; never any of the text."""
    return {"type": "history.hidden", "seq": seq}


def session_state(
    *,
    session_id: int,
    title: str,
    status: str,
    member_id: int,
    role: str,
    is_host: bool,
    muted_until: datetime | None,
    present: list[dict[str, Any]],
    round_state: dict[str, Any] | None,
    last_seq: int,
) -> dict[str, Any]:
    """The first event of every connection, to her alone: the room as it is now."""
    return {
        "type": "session.state",
        "session": {"id": session_id, "title": title, "status": status},
        "me": {
            "member_id": member_id,
            "role": role,
            "is_host": is_host,
            "muted_until": stamp(muted_until),
        },
        "present": present,
        "round": round_state,
        "last_seq": last_seq,
    }


def present_entry(*, member_id: int, display_name: str, role: str, status: str) -> dict[str, Any]:
    """One member of `session.state`'s present list."""
    return {"member_id": member_id, "display_name": display_name, "role": role, "status": status}


def round_state(*, prompt: str, order: list[int], current: int | None) -> dict[str, Any]:
    """The open round inside `session.state`."""
    return {"prompt": prompt, "order": order, "current": current}


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
