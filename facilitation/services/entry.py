"""Entering a room: the one decision, on a database thread (`room_enter`, any database) or,
for the plain case on PostgreSQL, on the event loop (`room_enter_fast`, issue 20).

Both read the same statements (`sql.room()`, `groups.sql.token_statements`) and decide with
the same functions (`_admit`, `_entry_writes`, `_entered`); `room_enter_from_loop` picks the
path, as `message_send` does for a post.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from facilitation import events, sql
from facilitation.agreements import OPENED_EVENT
from facilitation.models import PresenceStatus, Session, SessionStatus, SupportKind, SupportRequest
from facilitation.selectors import (
    SUPPORT_RELATED,
    history_after,
    present_list,
    present_params,
)
from facilitation.services.context import PRESENCE_WINDOW, RoomContext, RoomRefused
from facilitation.services.room import PROCESS_ID, SOCKETS_PER_MEMBER, Mine, _state
from groups.models import Membership, MembershipStatus, User
from groups.policies import Action, can, is_signed_in
from groups.selectors import agreement_admits
from groups.services import TokenCheck, token_authenticate
from groups.sql import token_statements
from project import asyncdb, closecodes, realtime
from project.exceptions import ApplicationError, parse_id
from project.sql import prepared_cursor


class Entered(NamedTuple):
    """Who entered (her account, and the token she came with, if any) and what entry
    answered: her context and her `session.state` event."""

    user: User
    token_id: int | None
    context: RoomContext
    state: dict[str, Any]


class _Admission(NamedTuple):
    session: Session
    membership: Membership
    is_host: bool


def _entry_params(actor: User, pk: int, now: Any) -> list[Any]:
    """The parameters of `sql.room()["enter"]` (in the order its comment gives)."""
    return [
        sql.db_time(now),
        OPENED_EVENT,
        sql.db_time(now - PRESENCE_WINDOW),
        SupportKind.LEFT_QUICKLY,
        *sql.MOMENTS,
        *sql.MOMENTS,
        actor.pk,
        MembershipStatus.ACTIVE,
        pk,
    ]


def _admit(actor: User, pk: int, row: sql.EntryRow) -> _Admission:
    """Entry's decision on its one read, for a member of the session's group (the caller
    handles `row.member_id is None`); raises RoomRefused with its close code."""
    session = Session(
        id=pk, group_id=row.group_id, title=row.title, status=row.status, last_seq=row.last_seq
    )
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
    return _Admission(session=session, membership=membership, is_host=is_host)


def _entry_writes(pk: int, row: sql.EntryRow, now: Any) -> list[tuple[str, list[Any]]]:
    """Entry's writes, in order: her participant row on her first entry (or its first seq,
    when a host made the row before she came), then her attendance (`RETURNING id`, last)."""
    statements = sql.room()
    writes: list[tuple[str, list[Any]]] = []
    if row.participant_id is None:
        writes.append((statements["participant"], [pk, row.member_id, row.last_seq]))
    elif row.first_seq is None:
        writes.append((statements["first_seq"], [row.last_seq, pk, row.member_id]))
    db_now = sql.db_time(now)
    writes.append(
        (
            statements["attendance"],
            [pk, row.member_id, db_now, db_now, PresenceStatus.HERE, PROCESS_ID],
        )
    )
    return writes


def _entered(
    actor: User,
    pk: int,
    row: sql.EntryRow,
    admitted: _Admission,
    attendance_id: int,
    *,
    support: dict[str, Any] | None,
    present: list[dict[str, Any]] | None = None,
) -> tuple[RoomContext, dict[str, Any]]:
    """Her context and `session.state` once she is in."""
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
    state = _state(
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
            support=support,
            checkins=sql.moments(row.checked_in),
            skipped=sql.moments(row.skipped),
        ),
        present=present,
    )
    return context, state


def _arrival(row: sql.EntryRow) -> dict[str, Any]:
    """What the room hears when she comes in."""
    return events.presence(
        member_id=row.member_id,
        display_name=row.display_name,
        role=row.role,
        status=PresenceStatus.HERE,
    )


@transaction.atomic
def room_enter(*, actor: User, session_id: Any) -> tuple[RoomContext, dict[str, Any]]:
    """Let a member into a session's room; returns her context and the `session.state` event.

    Refusals carry the close code (project.closecodes): not signed in; forbidden (not, or no
    longer, a member, or removed from this session); no such session or not visible; the
    agreement that binds this session not accepted (`groups.selectors.agreement_admits`: a
    version published after the session opened does not apply to it); the session not open
    (hosts may enter a scheduled one); too many live connections of hers to this session
    already (SOCKETS_PER_MEMBER).

    Her first entry fixes where her reading of the log starts (`selectors.history_after`).

    One read decides (`sql.room()["enter"]`), then the participant row (first entry only) and
    the attendance row are written; the roles come from `groups.policies` as everywhere else.
    """
    if not is_signed_in(actor):
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        raise RoomRefused(closecodes.NO_SESSION) from None
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["enter"], _entry_params(actor, pk, now))
        found = cursor.fetchone()
        if found is None:
            raise RoomRefused(closecodes.NO_SESSION)
        row = sql.EntryRow(*found)
        if row.member_id is None:
            ever = Membership.objects.filter(group_id=row.group_id, user_id=actor.pk).exists()
            session = Session(
                id=pk,
                group_id=row.group_id,
                title=row.title,
                status=row.status,
                last_seq=row.last_seq,
            )
            visible = can(actor, Action.SESSION_VIEW, session=session)
            raise RoomRefused(closecodes.FORBIDDEN if ever or visible else closecodes.NO_SESSION)
        admitted = _admit(actor, pk, row)
        for statement, params in _entry_writes(pk, row, now):
            cursor.execute(statement, params)
        attendance_id = cursor.fetchone()[0]
    context, state = _entered(
        actor, pk, row, admitted, attendance_id, support=_support_found(row.my_support_id)
    )
    realtime.broadcast_on_commit(events.session_group(pk), _arrival(row))
    return context, state


def _support_found(request_id: int | None) -> dict[str, Any] | None:
    """`selectors.support_mine` when room entry's read has already found which request is hers
    (`sql.EntryRow.my_support_id`): no statement when she has none (issue 20)."""
    if request_id is None:
        return None
    row = SupportRequest.objects.filter(pk=request_id).select_related(*SUPPORT_RELATED).first()
    return events.without_type(events.support_sent(row)) if row is not None else None


def room_enter_with_token(*, key: str, session_id: Any) -> Entered:
    """Room entry for a socket that came with a bearer token (`groups.authentication
    .TokenAuthMiddleware` leaves the key unchecked): the token is checked as on every request
    (`groups.services.token_authenticate`: unknown, expired, revoked or a deactivated account
    is refused as not signed in, nothing cached) and then the room entered, in one call to
    the database threads instead of two (issue 20)."""
    found = token_authenticate(key=key)
    if found is None:
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    user, token = found
    context, state = room_enter(actor=user, session_id=session_id)
    return Entered(user=user, token_id=token.pk, context=context, state=state)


def _plain(row: sql.EntryRow, admitted: _Admission) -> bool:
    """Whether her `session.state` needs nothing beyond entry's read and the present list:
    not a host (hosts read the room's decisions, requests and check-ins), not muted, no
    round open and no support request of hers (each read by the ORM)."""
    return not (
        admitted.is_host or row.muted or row.round_id is not None or row.my_support_id is not None
    )


async def room_enter_fast(
    *, key: str | None, actor: User | None, session_id: Any
) -> tuple[Entered, list[tuple[str, dict[str, Any]]]] | None:
    """Room entry for the plain case, on the event loop (project/asyncdb.py): the same
    statements and decisions as `room_enter_with_token` and `room_enter`, in three round trips
    (two with a browser's account) where the database threads took six plus a thread hand-over
    each way.

    Returns what she entered with and the arrival to publish, or None when the case is not
    plain (the token or session refused, someone who is not a member, a host, a muted member,
    an open round, a support request of hers): then nothing was written, and the caller runs
    `room_enter_with_token` or `room_enter`, which refuses or enters. Raises `psycopg.Error`
    when PostgreSQL cannot be reached.
    """
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        return None
    if key is None and not is_signed_in(actor):
        return None
    statements = sql.room()
    now = timezone.now()
    token_id: int | None = None
    touch: tuple[str, list[Any]] | None = None
    async with asyncdb.connection() as conn:
        if key is not None:
            check = TokenCheck(key)
            read, touch_statement = token_statements()
            async with conn.cursor() as cursor:
                await cursor.execute(read, check.params)
                found = check.found(await cursor.fetchone())
            if found is None:
                return None
            actor, token = found
            token_id = token.pk
            if check.touch is not None:
                touch = (touch_statement, check.touch)
        assert actor is not None
        # Her token's idle clock (when due) and entry's read, sent together.
        async with conn.pipeline():
            if touch is not None:
                await conn.execute(*touch)
            entry = conn.cursor()
            await entry.execute(statements["enter"], _entry_params(actor, pk, now))
        found_row = await entry.fetchone()
        if found_row is None:
            return None
        row = sql.EntryRow(*found_row)
        if row.member_id is None:
            return None
        try:
            admitted = _admit(actor, pk, row)
        except RoomRefused:
            return None
        if not _plain(row, admitted):
            return None
        # The writes and the present list in one transaction, sent with its COMMIT and
        # answered in one round trip (the present list sees her own new attendance).
        async with conn.pipeline(), conn.transaction():
            written = []
            for statement, params in _entry_writes(pk, row, now):
                written.append(conn.cursor())
                await written[-1].execute(statement, params)
            listed = conn.cursor()
            await listed.execute(statements["present"], present_params(pk))
        attendance_id = (await written[-1].fetchone())[0]
        present = present_list(await listed.fetchall())
    context, state = _entered(
        actor, pk, row, admitted, attendance_id, support=None, present=present
    )
    arrival = realtime.forward_message(_arrival(row))
    return (
        Entered(user=actor, token_id=token_id, context=context, state=state),
        [(events.session_group(pk), arrival)],
    )


async def room_enter_from_loop(*, key: str | None, actor: User | None, session_id: Any) -> Entered:
    """Room entry from a consumer, on the path that fits: the plain case on the event loop
    (`room_enter_fast`, on PostgreSQL while HAVEN_FAST_ENTRY is on), anything else, or a
    database the loop cannot reach, on a database thread, which refuses (RoomRefused) or
    answers unavailable (DatabaseError). The room hears her arrival after her entry commits.
    """
    if asyncdb.enabled() and settings.HAVEN_FAST_ENTRY:
        try:
            async with realtime.loop_write():
                fast = await room_enter_fast(key=key, actor=actor, session_id=session_id)
        except psycopg.Error:
            fast = None
        if fast is not None:
            entered, outbox = fast
            await realtime.publish(outbox)
            return entered
    if key is not None:
        return await realtime.run_in_db(room_enter_with_token, key=key, session_id=session_id)
    context, state = await realtime.run_in_db(room_enter, actor=actor, session_id=session_id)
    return Entered(user=actor, token_id=None, context=context, state=state)
