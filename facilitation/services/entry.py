"""Entering a room: one read decides, one statement writes (issue 20).

A socket that came with a bearer token has it checked in the same read as the room
(`sql.room()["enter_with_token"]`). On PostgreSQL a member whose `session.state` needs nothing
more than that read and the present list (not a host, not muted, no round open, no support
request of hers: `_plain`) arrives in one statement (`sql.room()["arrive"]`), atomic by itself,
with no transaction around it; everyone else arrives in a transaction with the reads her
state needs, as on SQLite. Two round trips for most entries where there were six. A socket
with a token whose entry is plain makes those two round trips on the event loop's own
connections (`room_enter_fast`), with no database thread.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from facilitation import events, sql
from facilitation.agreements import OPENED_EVENT
from facilitation.models import PresenceStatus, Session, SessionStatus, SupportKind, SupportRequest
from facilitation.selectors import SUPPORT_RELATED, history_after, present_params
from facilitation.services.context import PRESENCE_WINDOW, RoomContext, RoomRefused
from facilitation.services.messages import Outbox
from facilitation.services.room import (
    PROCESS_ID,
    SOCKETS_PER_MEMBER,
    Mine,
    presence_broadcast,
    presence_on_commit,
    room_state_event,
)
from groups.models import Membership, MembershipStatus, User
from groups.policies import Action, can, is_signed_in
from groups.selectors import agreement_admits
from groups.services import TokenCheck, token_authenticate
from groups.sql import token_statements
from project import asyncdb, closecodes, realtime
from project.exceptions import ApplicationError, parse_id
from project.sql import prepared_cursor


class Entered(NamedTuple):
    """What `room_enter_with_token` found: who she is, the token she came with, and what
    `room_enter` answered."""

    user: User
    token_id: int
    context: RoomContext
    state: dict[str, Any]


class _Admitted(NamedTuple):
    session: Session
    membership: Membership
    is_host: bool


def _entry_params(pk: int, now: Any, user: list[Any]) -> list[Any]:
    """The parameters of `sql.room()["enter"]` (in the order its comment gives), with `user`
    standing for the user id (the token's three in "enter_with_token")."""
    return [
        sql.db_time(now),
        OPENED_EVENT,
        sql.db_time(now - PRESENCE_WINDOW),
        SupportKind.LEFT_QUICKLY,
        *sql.MOMENTS,
        *sql.MOMENTS,
        *user,
        MembershipStatus.ACTIVE,
        pk,
    ]


def _session_id(session_id: Any) -> int:
    try:
        return parse_id(session_id)
    except ApplicationError:
        raise RoomRefused(closecodes.NO_SESSION) from None


def room_enter(*, actor: User, session_id: Any) -> tuple[RoomContext, dict[str, Any]]:
    """Let a member into a session's room; returns her context and the `session.state` event.

    Refusals carry the close code (project.closecodes): not signed in; forbidden (not, or no
    longer, a member, or removed from this session); no such session or not visible; the
    agreement that binds this session not accepted (`groups.selectors.agreement_admits`: a
    version published after the session opened does not apply to it); the session not open
    (hosts may enter a scheduled one); too many live connections of hers to this session
    already (SOCKETS_PER_MEMBER).

    Her first entry fixes where her reading of the log starts (`selectors.history_after`).

    One read decides (`sql.room()["enter"]`), then she arrives (`_arrive`); the roles come
    from `groups.policies` as everywhere else.
    """
    if not is_signed_in(actor):
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    pk = _session_id(session_id)
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["enter"], _entry_params(pk, now, [actor.pk]))
        found = cursor.fetchone()
    return _enter_found(actor, pk, now, found)


def room_enter_with_token(*, key: str, session_id: Any) -> Entered:
    """Room entry for a socket that came with a bearer token (`groups.authentication
    .TokenAuthMiddleware` leaves the key unchecked): the token is checked as on every request
    (`groups.services.TokenCheck`, as `token_authenticate`: unknown, expired, revoked or a
    deactivated account is refused as not signed in, nothing cached), in the same read as
    the room's (`sql.room()["enter_with_token"]`), then she enters as in `room_enter`."""
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        # No room to read: the token alone decides between the two refusals.
        if token_authenticate(key=key) is None:
            raise RoomRefused(closecodes.NOT_SIGNED_IN) from None
        raise RoomRefused(closecodes.NO_SESSION) from None
    check = TokenCheck(key)
    now = check.now
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.room()["enter_with_token"], [*_entry_params(pk, now, check.params), *check.params]
        )
        row = cursor.fetchone()
        found = check.found(row)
        if found is None:
            raise RoomRefused(closecodes.NOT_SIGNED_IN)
        if check.touch is not None:
            cursor.execute(token_statements()[1], check.touch)
    user, token = found
    context, state = _enter_found(user, pk, now, row[check.end :])
    return Entered(user=user, token_id=token.pk, context=context, state=state)


def _enter_found(actor: User, pk: int, now: Any, found: Any) -> tuple[RoomContext, dict[str, Any]]:
    """Entry's decision on its one read, then her arrival."""
    if found is None or found[0] is None:
        raise RoomRefused(closecodes.NO_SESSION)
    row = sql.EntryRow(*found)
    session = _session(pk, row)
    if row.member_id is None:
        ever = Membership.objects.filter(group_id=row.group_id, user_id=actor.pk).exists()
        visible = can(actor, Action.SESSION_VIEW, session=session)
        raise RoomRefused(closecodes.FORBIDDEN if ever or visible else closecodes.NO_SESSION)
    admitted = _admit(actor, session, row)
    if _plain(row, admitted) and connection.vendor == "postgresql":
        # One statement, atomic by itself, and nothing read after it: no transaction.
        return _arrive(actor, pk, now, row, admitted)
    with transaction.atomic():
        return _arrive(actor, pk, now, row, admitted)


def _session(pk: int, row: sql.EntryRow) -> Session:
    return Session(
        id=pk, group_id=row.group_id, title=row.title, status=row.status, last_seq=row.last_seq
    )


def _admit(actor: User, session: Session, row: sql.EntryRow) -> _Admitted:
    """Entry's refusals for a member of the session's group, in order; her roles."""
    membership = Membership(
        id=row.member_id,
        group_id=row.group_id,
        user_id=actor.pk,
        display_name=row.display_name,
        role=row.role,
        status=MembershipStatus.ACTIVE,
    )
    # `Session.is_co_host` reads this instead of querying again.
    session._prefetched_objects_cache = {"co_hosts": [membership] if row.co_host else []}
    if row.participant_id is not None and not row.not_removed:
        raise RoomRefused(closecodes.FORBIDDEN)
    if not agreement_admits(
        accepted=row.accepted, current=row.current_version, at_opening=row.at_opening
    ):
        raise RoomRefused(closecodes.AGREEMENT)
    is_host = can(actor, Action.SESSION_HOST, session=session, membership=membership)
    if row.status == SessionStatus.ENDED or (row.status == SessionStatus.SCHEDULED and not is_host):
        raise RoomRefused(closecodes.NOT_OPEN)
    if row.open_connections >= SOCKETS_PER_MEMBER:
        raise RoomRefused(closecodes.TOO_MANY)
    return _Admitted(session=session, membership=membership, is_host=is_host)


def _plain(row: sql.EntryRow, admitted: _Admitted) -> bool:
    """Whether her `session.state` needs nothing beyond entry's read and the present list:
    not a host (hosts read the room's decisions, requests and check-ins), not muted, no
    round open and no support request of hers (each read apart)."""
    return not (
        admitted.is_host or row.muted or row.round_id is not None or row.my_support_id is not None
    )


def _arrival(pk: int, now: Any, row: sql.EntryRow) -> tuple[str, str, list[Any], list[Any]]:
    """Her arrival's statements: the suffix of `sql.room()["arrive…"]` (her participant row on
    her first entry, or its first seq when a host made the row before she came), its
    participant parameters, the attendance's, and the present list's."""
    if row.participant_id is None:
        first, suffix = [pk, row.member_id, row.last_seq], "_participant"
    elif row.first_seq is None:
        first, suffix = [row.last_seq, pk, row.member_id], "_first_seq"
    else:
        first, suffix = [], ""
    db_now = sql.db_time(now)
    attendance = [pk, row.member_id, db_now, db_now, PresenceStatus.HERE, PROCESS_ID]
    return suffix, first, attendance, present_params(pk)


def _arrived(found: list[Any], row: sql.EntryRow) -> tuple[int, list[Any]]:
    """The new attendance's id and who is present, from the rows of `sql.room()["arrive…"]`:
    the statement does not see its own new row, so hers comes last, the newest."""
    here = (row.member_id, row.display_name, row.role, PresenceStatus.HERE)
    return found[0][0], [item[1:] for item in found if item[1] is not None] + [here]


def _arrive(
    actor: User, pk: int, now: Any, row: sql.EntryRow, admitted: _Admitted
) -> tuple[RoomContext, dict[str, Any]]:
    """Her participant row on her first entry (or its first seq), her attendance, who is
    present; then her context and `session.state`, and the room hears her arrive once it is
    committed."""
    statements = sql.room()
    suffix, first, attendance, present = _arrival(pk, now, row)
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(statements[f"arrive{suffix}"], [*first, *attendance, *present])
            attendance_id, present_rows = _arrived(cursor.fetchall(), row)
        else:
            if suffix:
                cursor.execute(statements[suffix[1:]], first)
            cursor.execute(statements["attendance"], attendance)
            attendance_id = cursor.fetchone()[0]
            cursor.execute(statements["present"], present)
            present_rows = cursor.fetchall()
    entered = _entered(actor, pk, row, admitted, attendance_id, present_rows)
    presence_on_commit(**_presence(pk, row))
    return entered


def _presence(pk: int, row: sql.EntryRow) -> dict[str, Any]:
    """The presence event of her arrival, as `room.presence_broadcast` takes it."""
    return {
        "session_id": pk,
        "member_id": row.member_id,
        "display_name": row.display_name,
        "role": row.role,
        "status": PresenceStatus.HERE,
    }


def _entered(
    actor: User,
    pk: int,
    row: sql.EntryRow,
    admitted: _Admitted,
    attendance_id: int,
    present_rows: list[Any],
) -> tuple[RoomContext, dict[str, Any]]:
    """Her context and `session.state` once she has arrived (no statement for a plain entry:
    `_plain`)."""
    session, membership, is_host = admitted
    context = RoomContext(
        session_id=pk,
        group_id=row.group_id,
        user_id=actor.pk,
        member_id=row.member_id,
        display_name=row.display_name,
        role=row.role,
        is_host=is_host,
        attendance_id=attendance_id,
        history_after=history_after(
            is_host=is_host, first_seq=row.last_seq if row.first_seq is None else row.first_seq
        ),
        reads_notes=can(actor, Action.CHECKIN_READ, session=session, membership=membership),
    )
    state = room_state_event(
        context,
        actor=actor,
        session=session,
        membership=membership,
        title=row.title,
        status=row.status,
        last_seq=row.last_seq,
        muted=bool(row.muted),
        round_open=row.round_id is not None,
        mine=Mine(
            support=_support_found(row.my_support_id),
            checkins=sql.moments(row.checked_in),
            skipped=sql.moments(row.skipped),
        ),
        present_rows=present_rows,
    )
    return context, state


async def room_enter_fast(*, key: str, session_id: Any) -> tuple[Entered, Outbox] | None:
    """`room_enter_with_token` for a plain entry (`_plain`), on the event loop's own PostgreSQL
    connections (project/asyncdb.py), as `message_post_fast` does for a message: no database
    thread, the same two statements, prepared.

    Returns what she entered with and her arrival's presence broadcast (for the caller to
    publish), or None, having written nothing, for anything else: a token or a session that
    does not check out, a refusal, an entry that is not plain. The caller then runs
    `room_enter_with_token`, which decides and explains as always. Raises `psycopg.Error` when
    PostgreSQL cannot be reached, and `OperationalError` once the process is stopping
    (`realtime.loop_write`: the attendance it writes is one the process closes as it stops).
    """
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        return None
    check = TokenCheck(key)
    now = check.now
    statements = sql.room()
    async with realtime.loop_write(), asyncdb.connection() as conn:
        read, touch, arrive = (conn.cursor() for _ in range(3))
        await read.execute(
            statements["enter_with_token"], [*_entry_params(pk, now, check.params), *check.params]
        )
        found = await read.fetchone()
        signed_in = check.found(found)
        if signed_in is None or found[check.end] is None:
            return None
        row = sql.EntryRow(*found[check.end :])
        if row.member_id is None:
            return None
        user, token = signed_in
        try:
            admitted = _admit(user, _session(pk, row), row)
        except RoomRefused:
            return None
        if not _plain(row, admitted):
            return None
        suffix, first, attendance, present = _arrival(pk, now, row)
        async with conn.pipeline():
            if check.touch is not None:
                await touch.execute(token_statements()[1], check.touch)
            await arrive.execute(statements[f"arrive{suffix}"], [*first, *attendance, *present])
        attendance_id, present_rows = _arrived(await arrive.fetchall(), row)
    context, state = _entered(user, pk, row, admitted, attendance_id, present_rows)
    entered = Entered(user=user, token_id=token.pk, context=context, state=state)
    return entered, [presence_broadcast(**_presence(pk, row))]


async def room_enter_by_token(*, key: str, session_id: Any) -> Entered:
    """Room entry for a socket that came with a bearer token, on the path that fits: on
    PostgreSQL a plain entry on the event loop (`room_enter_fast`), anything else, or a
    database the loop cannot reach, on a database thread (`room_enter_with_token`), which
    refuses with its close code or raises a `DatabaseError`. Her arrival is published before
    this returns, as `realtime.run_in_db` publishes a call's broadcasts."""
    if asyncdb.enabled():
        try:
            done = await room_enter_fast(key=key, session_id=session_id)
        except psycopg.Error:
            done = None
        if done is not None:
            entered, broadcasts = done
            await realtime.publish(broadcasts)
            return entered
    return await realtime.run_in_db(room_enter_with_token, key=key, session_id=session_id)


def _support_found(request_id: int | None) -> dict[str, Any] | None:
    """`selectors.support_mine` when room entry's read has already found which request is hers
    (`sql.EntryRow.my_support_id`): no statement when she has none (issue 20)."""
    if request_id is None:
        return None
    row = SupportRequest.objects.filter(pk=request_id).select_related(*SUPPORT_RELATED).first()
    return events.without_type(events.support_sent(row)) if row is not None else None
