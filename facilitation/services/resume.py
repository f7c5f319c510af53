"""Getting back what she missed: the reads of one `resume` (issue 20)."""

from __future__ import annotations

from typing import Any, NamedTuple

from facilitation import sql
from facilitation.log import REPLAY_LIMIT, events_replay
from facilitation.selectors import notices_active, private_replay
from facilitation.services.context import RoomContext
from project.sql import prepared_cursor


class ResumeRead(NamedTuple):
    """What one `resume` sends, read in one call to the database threads (issue 20)."""

    events: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    private: list[dict[str, Any]]


def resume_read(*, context: RoomContext, after_seq: int, history_after: int) -> ResumeRead:
    """Everything one `resume` of hers replays, in one database call: the log after
    `after_seq` to its end as she reads it (`log.events_replay`, REPLAY_LIMIT rows a
    statement; up to `history_after` as its `history.hidden` marker), her active notices
    (`selectors.notices_active`) and the private messages of this session
    (`selectors.private_replay`). Reads only; the connection sends it all under its delivery
    lock (`delivery.RoomDelivery.resume`).

    One plain-SQL statement first (`sql.resume()["gate"]`) says which of those reads can find
    anything: a reconnect that missed nothing, with no notice and no private message, costs
    that one statement; each read it does need is the selector's own (issue 20: the ORM's
    compiler was most of a `resume` in a restart storm). What the gate lets pass is read as
    before, so every rule of the reads still decides."""
    member_id = context.member_id
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.resume()["gate"], [context.session_id, member_id, member_id, context.session_id]
        )
        found = cursor.fetchone()
    if found is None:  # the session is gone (purged): nothing left to replay
        return ResumeRead(events=[], notices=[], private=[])
    gate = sql.ResumeGate(int(found[0]), bool(found[1]), bool(found[2]))
    replayed: list[dict[str, Any]] = []
    cursor_seq = after_seq
    missed = after_seq < history_after or after_seq < gate.last_seq
    while missed:
        batch = events_replay(
            session_id=context.session_id,
            after_seq=cursor_seq,
            limit=REPLAY_LIMIT,
            history_after=history_after,
            reader=context.reader,
        )
        replayed.extend(batch)
        if batch:
            cursor_seq = batch[-1]["seq"]
        if len(batch) < REPLAY_LIMIT:
            break
    private: list[dict[str, Any]] = []
    if gate.private or context.is_host:
        private = private_replay(
            session_id=context.session_id, member_id=member_id, is_host=context.is_host
        )
    return ResumeRead(
        events=replayed,
        notices=notices_active(session_id=context.session_id, member_id=member_id)
        if gate.notices
        else [],
        private=private,
    )
