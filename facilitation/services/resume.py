"""Getting back what she missed: the reads of one `resume` (issue 20)."""

from __future__ import annotations

from typing import Any, NamedTuple

from facilitation.log import REPLAY_LIMIT, events_replay
from facilitation.selectors import notices_active, private_replay
from facilitation.services.context import RoomContext


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
    (`selectors.private_replay`). A reconnect that missed nothing costs three statements and
    one trip to the database threads instead of three. Reads only; the connection sends it
    all under its delivery lock (`delivery.RoomDelivery.resume`)."""
    replayed: list[dict[str, Any]] = []
    cursor = after_seq
    while True:
        batch = events_replay(
            session_id=context.session_id,
            after_seq=cursor,
            limit=REPLAY_LIMIT,
            history_after=history_after,
            reader=context.reader,
        )
        replayed.extend(batch)
        if batch:
            cursor = batch[-1]["seq"]
        if len(batch) < REPLAY_LIMIT:
            break
    member_id = context.member_id
    return ResumeRead(
        events=replayed,
        notices=notices_active(session_id=context.session_id, member_id=member_id),
        private=private_replay(
            session_id=context.session_id, member_id=member_id, is_host=context.is_host
        ),
    )
