"""The durable session log (ARCHITECTURE.md rule 4): appending an event, replaying the log.

Every event that changes a session is written here with the session's next `seq`, in the
writer's transaction, then broadcast after commit. Clients that missed anything `resume` and
the log is replayed from the database, so a lost broadcast never loses data. Used by services
(append) and selectors and the room's delivery (replay) alike.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from facilitation import events, sql
from facilitation.models import Message, Session, SessionEvent
from groups.models import Membership
from project import realtime
from project.sql import model_load, prepared_cursor

REPLAY_LIMIT = 500
# A broadcast of an event only some readers read whole (`events.ABOUT_ONE_MEMBER`) also
# carries, beside its `text`, the member it is about and the text everyone else gets, so a
# connection chooses with one key lookup and never parses or serialises (`RoomDelivery`).
ABOUT = "about"
OTHERS_TEXT = "others"
# Fields of an event that are people's words (a status note, a round's prompt): stored
# encrypted beside the payload (`SessionEvent.text`), emptied by retention.
TEXT_FIELDS = ("note", "prompt")


def event_append(
    *, session: Session, event: dict[str, Any], message: Message | None = None
) -> dict[str, Any]:
    """Append a durable event with the session's next seq; broadcast it after commit.

    Should be called while holding the session row lock (`select_for_update`) inside the
    writer's transaction, so concurrent writers take seqs one after another, with no gaps and
    no reordering. An event about a `message` keeps its text in the (encrypted) message row,
    not in the log; replay rebuilds it from there, so a hidden or purged body never comes back.
    (`services.messages.message_post` writes the same seq bump, log row and broadcast in plain
    SQL, being the hot path.) Returns the event as sent, with its `seq`.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_append must run inside the writer's transaction")
    session.last_seq += 1
    Session.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    kind = event["type"]
    payload: dict[str, Any] = {}
    text: dict[str, Any] = {}
    if message is None:
        payload = {k: v for k, v in event.items() if k not in {"type", "seq"}}
        text = {k: payload[k] for k in TEXT_FIELDS if payload.get(k)}
        payload.update(dict.fromkeys(text))
    SessionEvent.objects.create(
        session=session,
        seq=session.last_seq,
        type=kind,
        payload=payload,
        message=message,
        text=json.dumps(text, ensure_ascii=False) if text else "",
    )
    sent = events.with_seq(event, session.last_seq)
    if kind not in events.ABOUT_ONE_MEMBER:
        realtime.broadcast_on_commit(events.session_group(session.pk), sent)
        return sent
    broadcast = realtime.forward_message(sent)
    broadcast[ABOUT] = sent["member_id"]
    broadcast[OTHERS_TEXT] = realtime.dumps(events.about_someone(sent))
    group = events.session_group(session.pk)
    transaction.on_commit(lambda: realtime.send_now(group, broadcast))
    return sent


def _loaded(values: tuple[Any, ...]) -> SessionEvent:
    """One row of `sql.log()["replay"]` as the ORM's `select_related("message__author")` builds
    it: the event, its message (or None) and the message's author (or None) cached on it."""
    row, start = model_load(SessionEvent, values)
    message, start = model_load(Message, values, start)
    author, _end = model_load(Membership, values, start)
    if row is None:
        raise ValueError("a log row without an id")
    if message is not None:
        Message.author.field.set_cached_value(message, author)
    SessionEvent.message.field.set_cached_value(row, message)
    return row


def _replayed(row: SessionEvent) -> dict[str, Any]:
    if row.message_id is None or row.message is None:
        return row.as_event()
    if row.type == "message.warning_set":
        return events.warning_from_row(row.message, row.seq)
    return events.message_from_row(row.message, row.seq)


def events_replay(
    *,
    session_id: int,
    after_seq: int,
    limit: int = REPLAY_LIMIT,
    history_after: int = 0,
    reader: events.Reader = events.NOBODY,
) -> list[dict[str, Any]]:
    """Durable events after `after_seq`, in order, as the room sends them to `reader`.

    Message events are rebuilt from their rows, so hidden and purged bodies stay hidden; an
    event about one member reaches only her and the hosts whole (`events.as_read_by`; without
    a reader, as any member reads it). The caller has decided that the reader may see this
    session's log, and from where (`history_after`, see `selectors.history_after`): events up
    to it come back as one `history.hidden` marker carrying its seq.
    """
    replay: list[dict[str, Any]] = []
    if after_seq < history_after:
        replay.append(events.history_hidden(seq=history_after))
        after_seq = history_after
    with prepared_cursor() as cursor:
        cursor.execute(sql.log()["replay"], [session_id, after_seq, max(0, limit - len(replay))])
        found = cursor.fetchall()
    rows = [_loaded(values) for values in found]
    replay.extend(events.as_read_by(_replayed(row), reader) for row in rows)
    return replay
