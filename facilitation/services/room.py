"""Being in a room: entering, leaving, the heartbeat and presence."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from importlib import import_module
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.sessions.models import Session as DjangoSession
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events, sql
from facilitation.models import (
    Attendance,
    Participant,
    PresenceStatus,
    Session,
    SessionStatus,
)
from facilitation.selectors import (
    checkin_moments,
    checkin_skipped_moments,
    checkins_for_hosts,
    facilitator_present,
    history_after,
    present_list,
    room_present,
    support_for_hosts,
    support_mine,
)
from facilitation.services.context import (
    PRESENCE_WINDOW,
    Beat,
    RoomContext,
    RoomRefused,
    participant_get,
)
from facilitation.services.hosts import decided_for_hosts, hosts_gate
from facilitation.services.rounds import round_skip_if_away, round_state
from groups.models import ApiToken, Membership, MembershipStatus, User
from groups.policies import Action, can
from project import closecodes, realtime
from project.exceptions import Forbidden, ValidationFailed
from project.sql import prepared_cursor

# A member's live connections to one session, across tabs, devices and server processes.
SOCKETS_PER_MEMBER = 5

# This server process, as the attendance rows it opens name it (random at each start, so a
# new process on the same port is another one). Daphne stops a process (SIGTERM) without
# running its consumers' `disconnect`: the process closes its rows itself on the way out
# (`room_close_process`, from project/serve.py). A killed one (SIGKILL) cannot: its rows stop
# counting as present, and toward SOCKETS_PER_MEMBER, once the heartbeat stops touching them
# (PRESENCE_WINDOW).
PROCESS_ID = uuid.uuid4().hex


class Mine(NamedTuple):
    """Her own part of `session.state`: her latest support request (as `support.sent`, or
    None), and the check-in moments she answered and skipped."""

    support: dict[str, Any] | None
    checkins: list[str]
    skipped: list[str]


def _mine(context: RoomContext) -> Mine:
    return Mine(
        support=support_mine(session_id=context.session_id, member_id=context.member_id),
        checkins=checkin_moments(session_id=context.session_id, member_id=context.member_id),
        skipped=checkin_skipped_moments(session_id=context.session_id, member_id=context.member_id),
    )


def room_state_event(
    context: RoomContext,
    *,
    actor: User,
    session: Session,
    membership: Membership,
    title: str,
    status: str,
    last_seq: int,
    muted: bool,
    round_open: bool,
    mine: Mine | None = None,
    present_rows: list[Any] | None = None,
) -> dict[str, Any]:
    """Her `session.state`: the room as it is now (`muted`, `round_open`: False when the
    caller already knows there is no mute or no round, saving the query; `mine`: her own
    part when the caller has read it already, as room entry's one read does; `present_rows`:
    the rows of `sql.room()["present"]` when the caller has read them, as entry does). Hosts also
    read who is muted until when, and who was removed; `me.may_end` follows the one policy,
    with whether a facilitator is present."""
    if mine is None:
        mine = _mine(context)
    muted_until = None
    if muted:
        muted_until = (
            Participant.objects.filter(
                session_id=context.session_id,
                membership_id=context.member_id,
                muted_until__gt=timezone.now(),
            )
            .values_list("muted_until", flat=True)
            .first()
        )
    mutes: dict[int, datetime] | None = None
    removed: list[dict[str, Any]] | None = None
    support: list[dict[str, Any]] | None = None
    checkins: list[dict[str, Any]] | None = None
    if context.is_host:
        gate = hosts_gate(context.session_id)
        mutes, removed = decided_for_hosts(context.session_id) if gate.decided else ({}, [])
        support = support_for_hosts(session_id=context.session_id) if gate.support else []
        checkins = (
            checkins_for_hosts(session_id=context.session_id, reads_notes=context.reads_notes)
            if gate.checkins
            else []
        )
    present = (
        room_present(session_id=context.session_id, mutes=mutes)
        if present_rows is None
        else present_list(present_rows, mutes=mutes)
    )
    may_end = can(
        actor,
        Action.SESSION_END,
        session=session,
        membership=membership,
        facilitator_present=facilitator_present(present),
    )
    return events.session_state(
        session_id=context.session_id,
        title=title,
        status=status,
        member_id=context.member_id,
        role=context.role,
        is_host=context.is_host,
        muted_until=muted_until,
        may_end=may_end,
        present=present,
        round_state=round_state(context.session_id) if round_open else None,
        last_seq=last_seq,
        removed=removed,
        my_support=mine.support,
        support=support,
        my_checkins=mine.checkins,
        my_skipped=mine.skipped,
        checkins=checkins,
    )


def room_channel_groups(
    context: RoomContext, *, token_id: int | None, session_key: str | None
) -> list[str]:
    """The channel groups one connection joins: what reaches her, and what can close it.

    Recipients are a security decision (ARCHITECTURE.md rule 5): the room's public events, her
    own private ones, the hosts' group only for a host, and the groups that close her sockets
    on sign-out, token revocation, deactivation or removal.
    """
    names = [
        events.session_group(context.session_id),
        events.participant_group(context.session_id, context.member_id),
        realtime.member_group(context.member_id),
        realtime.user_group(context.user_id),
    ]
    if context.is_host:
        names.append(events.hosts_group(context.session_id))
    if token_id is not None:
        names.append(realtime.token_group(token_id))
    elif session_key:
        names.append(realtime.auth_session_group(session_key))
    return names


def presence_on_commit(
    *, session_id: int, member_id: int, display_name: str, role: str, status: str
) -> None:
    """Tell the room who is present once the transaction commits: every presence event."""
    realtime.broadcast_on_commit(
        events.session_group(session_id),
        events.presence(member_id=member_id, display_name=display_name, role=role, status=status),
    )


@transaction.atomic
def room_leave(*, context: RoomContext) -> None:
    """Close one connection's attendance; when it was her last, tell the room she left.

    A member who is no longer here while it is her turn in a round is skipped, so the round
    goes on.
    """
    statements = sql.room()
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(statements["leave"], [sql.db_time(now), context.attendance_id])
        horizon = sql.db_time(now - PRESENCE_WINDOW)
        session_id, member_id = context.session_id, context.member_id
        cursor.execute(statements["after_leave"], [session_id, member_id, horizon, session_id])
        after = sql.AfterLeaveRow(*cursor.fetchone())
    if not after.still_here:
        presence_on_commit(
            session_id=context.session_id,
            member_id=context.member_id,
            display_name=context.display_name,
            role=context.role,
            status="left",
        )
    # Her other connection may be a stepped-out one: then she is away all the same.
    if after.open_rounds:
        round_skip_if_away(session_id=context.session_id, member_id=context.member_id)


@transaction.atomic
def room_close_process(*, process: str = PROCESS_ID) -> int:
    """A server process stops: close the attendance of every connection it still holds, in
    one statement, and tell each room who is no longer here, as `room_leave` does for one
    connection (nothing for a member still here on a connection of another process). Returns
    the number of connections closed.

    Unlike `room_leave`, her turn in a round is not skipped: the server went away, not her, and
    her page comes back within seconds (a host can still skip her turn).
    """
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["close_process"], [sql.db_time(now), process])
        rows = cursor.fetchall()
    if not rows:
        return 0
    closed = {(session_id, member_id) for session_id, member_id in rows}
    sessions = {session_id for session_id, _ in closed}
    members = {member_id for _, member_id in closed}
    still_here = set(
        Attendance.objects.filter(
            session_id__in=sessions,
            membership_id__in=members,
            left_at__isnull=True,
            last_seen_at__gte=now - PRESENCE_WINDOW,
        ).values_list("session_id", "membership_id")
    )
    gone = closed - still_here
    names = {
        m.pk: m
        for m in Membership.objects.filter(pk__in={member_id for _, member_id in gone}).only(
            "display_name", "role"
        )
    }
    for session_id, member_id in sorted(gone):
        membership = names[member_id]
        presence_on_commit(
            session_id=session_id,
            member_id=member_id,
            display_name=membership.display_name,
            role=membership.role,
            status="left",
        )
    return len(rows)


class BeatAnswer(NamedTuple):
    """What the heartbeat tells one connection."""

    last_seq: int
    close_code: int | None
    is_host: bool


def _live_session_keys(keys: set[str]) -> set[str]:
    """The browser sessions among `keys` that still exist and have not expired."""
    if not keys:
        return set()
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE.endswith((".db", ".cached_db")):
        return set(
            DjangoSession.objects.filter(
                session_key__in=keys, expire_date__gt=timezone.now()
            ).values_list("session_key", flat=True)
        )
    return {key for key in keys if engine.SessionStore().exists(key)}


def room_touch_many(*, beats: list[Beat]) -> dict[int, BeatAnswer]:
    """The heartbeat of every live connection of a process, in a handful of queries whatever
    their number: keep them present, and answer per attendance id the session's newest seq,
    the close code if the connection may no longer stay (signed out, its browser session
    expired or deleted, its token revoked, removed, session ended), and whether she is a host
    of the session now.

    Closing and a change of rights are normally pushed at once through the channel layer;
    this check makes them hold even when that push was lost (a Redis restart).
    """
    if not beats:
        return {}
    Attendance.objects.filter(pk__in=[b.attendance_id for b in beats]).update(
        last_seen_at=timezone.now()
    )
    session_ids = {b.session_id for b in beats}
    sessions = {
        pk: (last_seq, status, group_id)
        for pk, last_seq, status, group_id in Session.objects.filter(
            pk__in=session_ids
        ).values_list("pk", "last_seq", "status", "group_id")
    }
    co_hosts: dict[int, list[Membership]] = {pk: [] for pk in session_ids}
    for session_id, member_id in Session.co_hosts.through.objects.filter(
        session_id__in=session_ids
    ).values_list("session_id", "membership_id"):
        co_hosts[session_id].append(Membership(id=member_id))
    users = {
        user.pk: user
        for user in User.objects.filter(pk__in={b.user_id for b in beats}, is_active=True).only(
            "pk", "org_role", "is_active"
        )
    }
    token_ids = {b.token_id for b in beats if b.token_id is not None}
    live_tokens = set(ApiToken.objects.live().filter(pk__in=token_ids).values_list("pk", flat=True))
    live_keys = _live_session_keys({b.session_key for b in beats if b.session_key})
    allowed = {
        (session_id, member_id): Membership(
            id=member_id,
            group_id=group_id,
            user_id=user_id,
            role=role,
            status=MembershipStatus.ACTIVE,
        )
        for session_id, member_id, group_id, user_id, role in Participant.objects.filter(
            session_id__in=session_ids,
            membership_id__in={b.member_id for b in beats},
            removed_at__isnull=True,
            membership__status=MembershipStatus.ACTIVE,
        ).values_list(
            "session_id",
            "membership_id",
            "membership__group_id",
            "membership__user_id",
            "membership__role",
        )
    }
    answers: dict[int, BeatAnswer] = {}
    for beat in beats:
        last_seq, status, group_id = sessions.get(beat.session_id, (0, SessionStatus.ENDED, 0))
        user = users.get(beat.user_id)
        membership = allowed.get((beat.session_id, beat.member_id))
        code: int | None = None
        is_host = beat.is_host
        if (
            user is None
            or (beat.token_id is not None and beat.token_id not in live_tokens)
            or (beat.session_key is not None and beat.session_key not in live_keys)
        ):
            code = closecodes.NOT_SIGNED_IN
        elif membership is None:
            code = closecodes.FORBIDDEN
        else:
            session = Session(id=beat.session_id, group_id=group_id)
            session._prefetched_objects_cache = {"co_hosts": co_hosts[beat.session_id]}
            is_host = can(user, Action.SESSION_HOST, session=session, membership=membership)
            if status == SessionStatus.ENDED:
                code = closecodes.NOT_OPEN
        answers[beat.attendance_id] = BeatAnswer(last_seq, code, is_host)
    return answers


def room_rights(*, context: RoomContext) -> tuple[RoomContext, dict[str, Any]]:
    """Her rights in the room again, after a change of role or of the co-host list: the
    context she now has and a fresh `session.state` for her page (her host controls, and the
    hosts' events, follow `me.is_host`). Raises RoomRefused if she may no longer stay."""
    session = Session.objects.prefetch_related("co_hosts").filter(pk=context.session_id).first()
    membership = (
        Membership.objects.filter(pk=context.member_id, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .first()
    )
    if session is None or session.status == SessionStatus.ENDED:
        raise RoomRefused(closecodes.NOT_OPEN)
    if membership is None or membership.user_id != context.user_id:
        raise RoomRefused(closecodes.FORBIDDEN)
    try:
        participant_get(context)
    except Forbidden:
        raise RoomRefused(closecodes.FORBIDDEN) from None
    user = membership.user
    is_host = can(user, Action.SESSION_HOST, session=session, membership=membership)
    changed = replace(
        context,
        is_host=is_host,
        role=membership.role,
        display_name=membership.display_name,
        history_after=history_after(is_host=is_host, first_seq=context.history_after),
        reads_notes=can(user, Action.CHECKIN_READ, session=session, membership=membership),
    )
    state = room_state_event(
        changed,
        actor=user,
        session=session,
        membership=membership,
        title=session.title,
        status=session.status,
        last_seq=session.last_seq,
        muted=True,
        round_open=True,
    )
    return changed, state


@transaction.atomic
def presence_set(*, actor: User, context: RoomContext, status: Any) -> None:
    """She is here, or has stepped out for a moment; the room sees which. Stepping out on
    her turn in a round skips it."""
    if status not in PresenceStatus.values:
        raise ValidationFailed({"status": [_("Choose here or stepped_out.")]})
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "last_seen_at": now}
    if status == PresenceStatus.STEPPED_OUT:
        # Kept for the session summary's register: she stepped out at least once.
        changes["stepped_out_at"] = Coalesce("stepped_out_at", Value(now))
    Attendance.objects.filter(pk=context.attendance_id).update(**changes)
    presence_on_commit(
        session_id=context.session_id,
        member_id=context.member_id,
        display_name=context.display_name,
        role=context.role,
        status=status,
    )
    if status == PresenceStatus.STEPPED_OUT:
        round_skip_if_away(session_id=context.session_id, member_id=context.member_id)
