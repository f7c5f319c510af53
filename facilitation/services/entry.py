"""Entering a room: one read decides, one statement writes (issue 20).

A socket that came with a bearer token has it checked in the same read as the room
(`sql.room()["enter_with_token"]`). On PostgreSQL a member whose `session.state` needs nothing
more than that read and the present list (not a host, not muted, no round open, no support
request of hers: `_plain`) arrives in one statement (`sql.room()["arrive"]`), atomic by itself,
with no transaction around it; everyone else arrives in a transaction with the reads her
state needs, as on SQLite. Two round trips for most entries where there were six. Her token's
idle clock, when it is due (as it is for everyone after a restart), is written by her arrival's
statement, not by one of its own.

A phone reconnecting with its token does better still on PostgreSQL: the token's read, the
room's read and a plain member's arrival are one statement (`sql.room()["enter_at_once"]`),
which decides in SQL with a narrower rule than this module's (`sql.FAST`: an ordinary member,
no org role). Whatever it does not arrive goes on as above from its read; what it does arrive,
the rule here decides again (`_enter_at_once`).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from facilitation import events, sql
from facilitation.agreements import OPENED_EVENT
from facilitation.models import PresenceStatus, Session, SessionStatus, SupportKind, SupportRequest
from facilitation.selectors import SUPPORT_RELATED, history_after, present_params
from facilitation.services.context import PRESENCE_WINDOW, RoomContext, RoomRefused
from facilitation.services.room import (
    PROCESS_ID,
    SOCKETS_PER_MEMBER,
    Mine,
    presence_on_commit,
    room_state_event,
)
from groups.models import Membership, MembershipStatus, User
from groups.policies import Action, can, is_signed_in
from groups.selectors import agreement_admits
from groups.services import TokenCheck, token_authenticate
from groups.sql import token_statements
from project import closecodes
from project.exceptions import ApplicationError, parse_id
from project.sql import prepared_cursor

logger = logging.getLogger(__name__)


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
    the room's (`sql.room()["enter_with_token"]`), then she enters as in `room_enter`. On
    PostgreSQL that read arrives a plain member too (`_enter_at_once`)."""
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        # No room to read: the token alone decides between the two refusals.
        if token_authenticate(key=key) is None:
            raise RoomRefused(closecodes.NOT_SIGNED_IN) from None
        raise RoomRefused(closecodes.NO_SESSION) from None
    check = TokenCheck(key)
    now = check.now
    params = [*_entry_params(pk, now, check.params), *check.params]
    if connection.vendor == "postgresql":
        return _enter_at_once(check, pk, params)
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["enter_with_token"], params)
        row = cursor.fetchone()
    found = check.found(row)
    if found is None:
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    user, token = found
    context, state = _enter_found(user, pk, now, row[check.end :], touch=check.touch)
    return Entered(user=user, token_id=token.pk, context=context, state=state)


# Where `sql.room()["enter_at_once"]`'s columns after the `EntryRow` are: the token's id, the
# fast verdict, her new attendance's id, then the `PresentRow`.
_AFTER_ENTRY = len(sql.EntryRow._fields)
_ARRIVED, _PRESENT = _AFTER_ENTRY + 2, _AFTER_ENTRY + 3


def _enter_at_once(check: TokenCheck, pk: int, params: list[Any]) -> Entered:
    """PostgreSQL: the token, the room's read and, for a plain arrival, her arrival too, in one
    statement (`sql.room()["enter_at_once"]`); anyone else goes on from its read as
    `_enter_found` does. What the statement admitted is decided again here, by the rule
    itself: should the two ever disagree, her arrival is undone and the rule stands."""
    now = check.now
    db_now = sql.db_time(now)
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.room()["enter_at_once"],
            [
                *sql.fast_params(SOCKETS_PER_MEMBER),
                *params,
                db_now,
                sql.db_time(check.due_before),
                db_now,
                db_now,
                PresenceStatus.HERE,
                PROCESS_ID,
                *present_params(pk),
            ],
        )
        rows = cursor.fetchall()
    found = check.found(rows[0] if rows else None)
    if found is None:
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    user, token = found
    read = rows[0][check.end :]
    entry, attendance_id = read[:_AFTER_ENTRY], read[_ARRIVED]
    if attendance_id is None:
        context, state = _enter_found(user, pk, now, entry, touch=check.touch)
        return Entered(user=user, token_id=token.pk, context=context, state=state)
    try:
        row, admitted = _decide(user, pk, entry)
        agreed = _plain(row, admitted)
    except RoomRefused:
        _undo(attendance_id)
        raise
    if not agreed:
        _undo(attendance_id)
        context, state = _enter_found(user, pk, now, entry)
        return Entered(user=user, token_id=token.pk, context=context, state=state)
    others = [item[check.end + _PRESENT :] for item in rows]
    context, state = _arrived(user, pk, row, admitted, attendance_id, others)
    return Entered(user=user, token_id=token.pk, context=context, state=state)


def _undo(attendance_id: int) -> None:
    """An arrival `sql.FAST` let through where the rule would not: closed at once, and
    said so (no one's names in it), for the two spellings to be made to agree again."""
    logger.error("room entry: the plain arrival's SQL admitted what the rule did not")
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["leave"], [sql.db_time(timezone.now()), attendance_id])


def _enter_found(
    actor: User, pk: int, now: Any, found: Any, *, touch: list[Any] | None = None
) -> tuple[RoomContext, dict[str, Any]]:
    """Entry's decision on its one read, then her arrival. `touch`: her token's idle clock is
    due (`groups.services.TokenCheck.touch`); on PostgreSQL it is written with her arrival,
    in the same statement, and on its own when she is refused or on SQLite, so it moves as
    on any other use of the token."""
    try:
        row, admitted = _decide(actor, pk, found)
    except RoomRefused:
        _touch(touch)
        raise
    on_postgresql = connection.vendor == "postgresql"
    if not on_postgresql:
        _touch(touch)
        touch = None
    if on_postgresql and _plain(row, admitted):
        # One statement, atomic by itself, and nothing read after it: no transaction.
        return _arrive(actor, pk, now, row, admitted, touch=touch)
    with transaction.atomic():
        return _arrive(actor, pk, now, row, admitted, touch=touch)


def _touch(touch: list[Any] | None) -> None:
    """Her token's idle clock, written on its own (`groups.sql.token_statements`)."""
    if touch is not None:
        with prepared_cursor() as cursor:
            cursor.execute(token_statements()[1], touch)


def _decide(actor: User, pk: int, found: Any) -> tuple[sql.EntryRow, _Admitted]:
    """Whether she may enter, on entry's one read: her row and her roles, or `RoomRefused`."""
    if found is None or found[0] is None:
        raise RoomRefused(closecodes.NO_SESSION)
    row = sql.EntryRow(*found)
    session = Session(
        id=pk, group_id=row.group_id, title=row.title, status=row.status, last_seq=row.last_seq
    )
    if row.member_id is None:
        ever = Membership.objects.filter(group_id=row.group_id, user_id=actor.pk).exists()
        visible = can(actor, Action.SESSION_VIEW, session=session)
        raise RoomRefused(closecodes.FORBIDDEN if ever or visible else closecodes.NO_SESSION)
    return row, _admit(actor, session, row)


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


def _arrive(
    actor: User,
    pk: int,
    now: Any,
    row: sql.EntryRow,
    admitted: _Admitted,
    *,
    touch: list[Any] | None = None,
) -> tuple[RoomContext, dict[str, Any]]:
    """Her token's idle clock when it is due (PostgreSQL only: `touch`), her participant row
    on her first entry (or its first seq, when a host made the row before she came), her
    attendance, who is present; then her context and `session.state`, and the room hears her
    arrive once it is committed."""
    statements = sql.room()
    if row.participant_id is None:
        first, suffix = [pk, row.member_id, row.last_seq], "_participant"
    elif row.first_seq is None:
        first, suffix = [row.last_seq, pk, row.member_id], "_first_seq"
    else:
        first, suffix = [], ""
    db_now = sql.db_time(now)
    attendance = [pk, row.member_id, db_now, db_now, PresenceStatus.HERE, PROCESS_ID]
    present = present_params(pk)
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            name, touched = (
                (f"arrive{suffix}", []) if touch is None else (f"arrive{suffix}_touch", touch)
            )
            cursor.execute(statements[name], [*touched, *first, *attendance, *present])
            found = cursor.fetchall()
            return _arrived(actor, pk, row, admitted, found[0][0], [item[1:] for item in found])
        if suffix:
            cursor.execute(statements[suffix[1:]], first)
        cursor.execute(statements["attendance"], attendance)
        attendance_id = cursor.fetchone()[0]
        cursor.execute(statements["present"], present)
        present_rows = cursor.fetchall()
    return _arrived(actor, pk, row, admitted, attendance_id, present_rows, hers_listed=True)


def _arrived(
    actor: User,
    pk: int,
    row: sql.EntryRow,
    admitted: _Admitted,
    attendance_id: int,
    present_rows: list[Any],
    *,
    hers_listed: bool = False,
) -> tuple[RoomContext, dict[str, Any]]:
    """Her context and `session.state` once she has arrived, and the room hears her arrive
    once it is committed. `present_rows`: `PresentRow`s (NULLs when none); on PostgreSQL her
    arrival's statement did not see its own new row (`hers_listed` False): hers comes last,
    the newest."""
    present_rows = [item for item in present_rows if item[0] is not None]
    if not hers_listed:
        present_rows.append((row.member_id, row.display_name, row.role, PresenceStatus.HERE))
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
    presence_on_commit(
        session_id=pk,
        member_id=row.member_id,
        display_name=row.display_name,
        role=row.role,
        status=PresenceStatus.HERE,
    )
    return context, state


def _support_found(request_id: int | None) -> dict[str, Any] | None:
    """`selectors.support_mine` when room entry's read has already found which request is hers
    (`sql.EntryRow.my_support_id`): no statement when she has none (issue 20)."""
    if request_id is None:
        return None
    row = SupportRequest.objects.filter(pk=request_id).select_related(*SUPPORT_RELATED).first()
    return events.without_type(events.support_sent(row)) if row is not None else None
