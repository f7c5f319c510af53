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
from typing import TYPE_CHECKING, Any, NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework.fields import DateTimeField

from project.realtime import PERSONAL

if TYPE_CHECKING:
    from facilitation.models import (
        CheckIn,
        Message,
        PrivateMessage,
        PrivateNotice,
        SupportRequest,
    )

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
    return f"{PERSONAL}session.{session_id}.member.{member_id}"


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


def member_muted(*, member_id: int, until: datetime, announced: bool) -> dict[str, Any]:
    """Whole to the hosts and to her; every other reader gets `about_someone` of it."""
    return {
        "type": "member.muted",
        "member_id": member_id,
        "until": stamp(until),
        "announced": announced,
    }


def member_unmuted(*, member_id: int, announced: bool) -> dict[str, Any]:
    """Whole to the hosts and to her; every other reader gets `about_someone` of it.
    `announced`: the mute it ends was told to the room."""
    return {"type": "member.unmuted", "member_id": member_id, "until": None, "announced": announced}


# --- who reads a durable event whole ---------------------------------------------------------

# Durable events about one member that only she and the hosts read as they are: a mute is not
# announced by name. Every other reader gets the same type and seq from `about_someone`.
ABOUT_ONE_MEMBER = frozenset({"member.muted", "member.unmuted"})


class Reader(NamedTuple):
    """Who reads the log (a connection, a REST caller): her member id and whether she hosts."""

    member_id: int | None
    is_host: bool


# Someone the log does not know: reads what any member of the room may read, and no more.
NOBODY = Reader(member_id=None, is_host=False)


def reads_whole(reader: Reader, about: int | None) -> bool:
    """Does `reader` read an event about member `about` as it is (hosts, and she herself)?"""
    return reader.is_host or (about is not None and about == reader.member_id)


def about_someone(event: dict[str, Any]) -> dict[str, Any]:
    """`member.muted` / `member.unmuted` as the rest of the room reads it: nobody named, no
    time, only whether the host chose to tell the room."""
    return {
        "type": event["type"],
        "seq": event["seq"],
        "member_id": None,
        "until": None,
        "announced": bool(event.get("announced")),
    }


def as_read_by(event: dict[str, Any], reader: Reader) -> dict[str, Any]:
    """A durable event as `reader` may read it (one set lookup for every other event)."""
    if event["type"] in ABOUT_ONE_MEMBER and not reads_whole(reader, event.get("member_id")):
        return about_someone(event)
    return event


def member_removed(*, member_id: int) -> dict[str, Any]:
    return {"type": "member.removed", "member_id": member_id}


def session_status(
    *, status: str, note: str | None, next_session: dict[str, Any] | None = None
) -> dict[str, Any]:
    """To the room. Once `ended`, it names the group's next session (`session_brief`) or null."""
    event: dict[str, Any] = {"type": "session.status", "status": status, "note": note}
    if status == "ended":
        event["next_session"] = next_session
    return event


def session_brief(*, session_id: int, title: str, starts_at: datetime) -> dict[str, Any]:
    """A session as the end screen names it (`next_session`)."""
    return {"id": session_id, "title": title, "starts_at": stamp(starts_at)}


def round_started(
    *, prompt: str, order: list[int], current: int | None, outcomes: dict[str, str]
) -> dict[str, Any]:
    return {
        "type": "round.started",
        "prompt": prompt,
        "order": order,
        "current": current,
        "outcomes": outcomes,
    }


def round_turn(
    *, current: int | None, previous: int | None, passed: bool, skipped: bool = False
) -> dict[str, Any]:
    """The turn moves from `previous` (who passed, was skipped, or was done) to `current`."""
    return {
        "type": "round.turn",
        "current": current,
        "previous": previous,
        "passed": passed,
        "skipped": skipped,
    }


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
    may_end: bool,
    present: list[dict[str, Any]],
    round_state: dict[str, Any] | None,
    last_seq: int,
    removed: list[dict[str, Any]] | None = None,
    my_support: dict[str, Any] | None = None,
    support: list[dict[str, Any]] | None = None,
    my_checkins: list[str] | None = None,
    my_skipped: list[str] | None = None,
    checkins: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The first event of every connection, to her alone: the room as it is now, with her
    latest support request (`me.support`), the moments she already checked in for
    (`me.checkins`) and those she skipped (`me.checkins_skipped`). Hosts also get `removed`,
    `support` (the requests not closed), `checkins` and `muted_until` in each present entry;
    nobody else gets any of them."""
    state = {
        "type": "session.state",
        "session": {"id": session_id, "title": title, "status": status},
        "me": {
            "member_id": member_id,
            "role": role,
            "is_host": is_host,
            "muted_until": stamp(muted_until),
            "may_end": may_end,
            "support": my_support,
            "checkins": my_checkins or [],
            "checkins_skipped": my_skipped or [],
        },
        "present": present,
        "round": round_state,
        "last_seq": last_seq,
    }
    if removed is not None:
        state["removed"] = removed
    if support is not None:
        state["support"] = support
    if checkins is not None:
        state["checkins"] = checkins
    return state


def present_entry(*, member_id: int, display_name: str, role: str, status: str) -> dict[str, Any]:
    """One member of `session.state`'s present list (hosts' lists add `muted_until`)."""
    return {"member_id": member_id, "display_name": display_name, "role": role, "status": status}


def removed_entry(*, member_id: int, display_name: str) -> dict[str, Any]:
    """One member of the hosts' `removed` list in `session.state`."""
    return {"member_id": member_id, "display_name": display_name}


def round_state(
    *, prompt: str, order: list[int], current: int | None, outcomes: dict[str, str]
) -> dict[str, Any]:
    """The open round inside `session.state`."""
    return {"prompt": prompt, "order": order, "current": current, "outcomes": outcomes}


def presence(*, member_id: int, display_name: str, role: str, status: str) -> dict[str, Any]:
    return {
        "type": "presence",
        "member_id": member_id,
        "display_name": display_name,
        "role": role,
        "status": status,
    }


def _host(member: Any) -> dict[str, Any] | None:
    """`by` of a support request: the host who saw, took or closed it, or None."""
    if member is None:
        return None
    return author(member_id=member.pk, display_name=member.display_name, role=member.role)


def support_requested(row: SupportRequest) -> dict[str, Any]:
    """To the hosts group only (and in the hosts' `session.state.support`): who asked, what
    she chose, her note, and where it stands. `kind` `left_quickly`: she used the quick exit."""
    member = row.membership
    return {
        "type": "support.requested",
        "member_id": member.pk,
        "display_name": member.display_name,
        "note": row.note or None,
        "request_id": row.pk,
        "kind": row.kind,
        "at": stamp(row.created_at),
        "status": row.status,
        "by": _host(row.status_by),
    }


def support_sent(row: SupportRequest) -> dict[str, Any]:
    """To her participant group only (all her tabs; `session.state.me.support`): her request
    was stored, whether a host was there to be told, and where it stands."""
    return {
        "type": "support.sent",
        "request_id": row.pk,
        "client_id": str(row.client_id),
        "kind": row.kind,
        "at": stamp(row.created_at),
        "hosts_told": row.hosts_told,
        "status": row.status,
        "by": _host(row.status_by),
    }


def support_updated(row: SupportRequest) -> dict[str, Any]:
    """To her and to the hosts: a host saw, took or closed her request (`by`, `at`)."""
    return {
        "type": "support.updated",
        "request_id": row.pk,
        "status": row.status,
        "by": _host(row.status_by),
        "at": stamp(row.status_at),
    }


# A `checkin` broadcast whose note only some hosts may read also carries, under this key, the
# text for the others (peer mentors, unless she shared it): one key lookup per connection.
WITHOUT_NOTE = "without_note"


def checkin(row: CheckIn, *, with_note: bool) -> dict[str, Any]:
    """To the hosts group (and in the hosts' `session.state.checkins`): how she is.
    `with_note` False (peer mentors, unless she shared it): `note` is null."""
    member = row.membership
    shown = with_note or row.share_note_with_peer_mentors
    return {
        "type": "checkin",
        "member_id": member.pk,
        "display_name": member.display_name,
        "moment": row.moment,
        "mood": row.mood,
        "note": (row.note or None) if shown else None,
        "at": stamp(row.created_at),
    }


def checkin_saved(row: CheckIn) -> dict[str, Any]:
    """To her participant group (all her tabs): her answer was kept, so it is not asked again."""
    return {
        "type": "checkin.saved",
        "moment": row.moment,
        "mood": row.mood,
        "note": row.note or None,
        "share_note_with_peer_mentors": row.share_note_with_peer_mentors,
        "at": stamp(row.created_at),
    }


def checkin_skipped(moment: str) -> dict[str, Any]:
    """To her participant group (all her tabs): she chose Skip, so it is not asked again."""
    return {"type": "checkin.skipped", "moment": moment}


def private_message(row: PrivateMessage, *, thread_member_id: int) -> dict[str, Any]:
    """To her member group and the hosts of the sessions she is in (never the session
    group); replayed after `resume`, after the notices. `author` null once the author's
    account is erased; `body` null once retention removed it."""
    return {
        "type": "private.message",
        "thread_member_id": thread_member_id,
        "message_id": row.pk,
        "author": _host(row.author),
        "body": row.body or None,
        "sent_at": stamp(row.created_at),
        "client_id": str(row.client_id),
    }


def without_type(event: dict[str, Any]) -> dict[str, Any]:
    """An event as an entry of a list (`session.state`, the room page's `data-config`)."""
    return {k: v for k, v in event.items() if k != "type"}


def notice(
    *,
    notice_id: int,
    code: str,
    message: str,
    by: dict[str, Any] | None,
    reason: str | None,
    until: datetime | None,
    message_id: int | None,
    at: datetime,
) -> dict[str, Any]:
    """To her participant group only (and replayed to her alone on `resume`): what a host did
    about her, in a whole sentence (`message`), who did it and why."""
    return {
        "type": "notice",
        "notice_id": notice_id,
        "code": code,
        "message": message,
        "by": by,
        "reason": reason,
        "until": stamp(until),
        "message_id": message_id,
        "at": stamp(at),
    }


# What each notice says happened; `name` is the host's pseudonym in the group. (A mute says
# for how long, in `notice_sentence`.)
_NOTICE_WHAT = {
    "message_hidden": gettext_lazy("%(name)s hid your message."),
    "warning_added": gettext_lazy("%(name)s added a content warning to your message."),
    "unmuted": gettext_lazy("%(name)s unmuted you. You can post again."),
    "removed": gettext_lazy("%(name)s removed you from this session."),
}


def notice_sentence(*, code: str, by_name: str | None, reason: str, minutes: int) -> str:
    """The notice in plain words, e.g. "Mari hid your message. Why: too much detail. Only you
    can see this." """
    name = by_name or _("A host")
    if code == "muted":
        what = ngettext(
            "%(name)s muted you for %(minutes)d minute. You can still read.",
            "%(name)s muted you for %(minutes)d minutes. You can still read.",
            minutes,
        ) % {"name": name, "minutes": minutes}
    else:
        what = _NOTICE_WHAT[code] % {"name": name}
    parts = [what]
    if reason:
        why = reason if reason[-1] in ".!?" else f"{reason}."
        parts.append(_("Why: %(reason)s") % {"reason": why})
    parts.append(_("Only you can see this."))
    return " ".join(parts)


def notice_from_row(row: PrivateNotice) -> dict[str, Any]:
    """The `notice` event of a stored notice (live, on `resume`, in the room page)."""
    host = row.by
    minutes = 0
    if row.until is not None:
        minutes = max(1, round((row.until - row.created_at).total_seconds() / 60))
    return notice(
        notice_id=row.pk,
        code=row.code,
        message=notice_sentence(
            code=row.code,
            by_name=host.display_name if host is not None else None,
            reason=row.reason,
            minutes=minutes,
        ),
        by=author(member_id=host.pk, display_name=host.display_name, role=host.role)
        if host is not None
        else None,
        reason=row.reason or None,
        until=row.until,
        message_id=row.message_id,
        at=row.created_at,
    )


def notice_dismissed(*, notice_id: int) -> dict[str, Any]:
    """To her participant group: every tab of hers drops this notice."""
    return {"type": "notice.dismissed", "notice_id": notice_id}


def ack(*, client_id: str, seq: int, message_id: int) -> dict[str, Any]:
    return {"type": "ack", "client_id": client_id, "seq": seq, "message_id": message_id}


def resume_done(*, last_seq: int) -> dict[str, Any]:
    return {"type": "resume.done", "last_seq": last_seq}


def heartbeat(*, last_seq: int) -> dict[str, Any]:
    return {"type": "heartbeat", "last_seq": last_seq}


def error(*, code: str, message: str, ref: str | None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "ref": ref}
