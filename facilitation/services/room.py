"""Being in a room: entering, leaving, the heartbeat, presence and "I need support"."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events, sql
from facilitation.models import Attendance, Participant, PresenceStatus, Session, SessionStatus
from facilitation.selectors import room_present
from facilitation.services.context import (
    PRESENCE_WINDOW,
    Beat,
    RoomContext,
    RoomRefused,
    participant_get,
)
from facilitation.services.rounds import round_pass_for, round_state
from groups.models import ApiToken, Membership, MembershipStatus, User
from groups.policies import Action, can, is_signed_in
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import ApplicationError, ValidationFailed, parse_id
from project.text import clean_text

SUPPORT_NOTE_MAX = 500


@transaction.atomic
def room_enter(*, actor: User, session_id: Any) -> tuple[RoomContext, dict[str, Any]]:
    """Let a member into a session's room; returns her context and the `session.state` event.

    Refusals carry the close code (project.closecodes): not signed in; forbidden (not, or no
    longer, a member, or removed from this session); no such session or not visible; the
    current agreement not accepted; the session not open (hosts may enter a scheduled one).

    One read decides (`sql.room()["enter"]`), then the participant row (first entry only) and
    the attendance row are written; the roles come from `groups.policies` as everywhere else.
    """
    if not is_signed_in(actor):
        raise RoomRefused(closecodes.NOT_SIGNED_IN)
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        raise RoomRefused(closecodes.NO_SESSION) from None
    statements = sql.room()
    now = timezone.now()
    db_now = sql.db_time(now)
    with connection.cursor() as cursor:
        cursor.execute(statements["enter"], [db_now, actor.pk, MembershipStatus.ACTIVE, pk])
        found = cursor.fetchone()
        if found is None:
            raise RoomRefused(closecodes.NO_SESSION)
        row = sql.EntryRow(*found)
        session = Session(
            id=pk, group_id=row.group_id, title=row.title, status=row.status, last_seq=row.last_seq
        )
        if row.member_id is None:
            ever = Membership.objects.filter(group_id=row.group_id, user_id=actor.pk).exists()
            visible = can(actor, Action.SESSION_VIEW, session=session)
            raise RoomRefused(closecodes.FORBIDDEN if ever or visible else closecodes.NO_SESSION)
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
        if not row.accepted:
            raise RoomRefused(closecodes.AGREEMENT)
        is_host = can(actor, Action.SESSION_HOST, session=session, membership=membership)
        if row.status == SessionStatus.ENDED or (
            row.status == SessionStatus.SCHEDULED and not is_host
        ):
            raise RoomRefused(closecodes.NOT_OPEN)
        if row.participant_id is None:
            cursor.execute(statements["participant"], [pk, row.member_id])
        cursor.execute(
            statements["attendance"], [pk, row.member_id, db_now, db_now, PresenceStatus.HERE]
        )
        attendance_id = cursor.fetchone()[0]
    muted_until = None
    if row.muted:
        muted_until = (
            Participant.objects.filter(session_id=pk, membership_id=row.member_id)
            .values_list("muted_until", flat=True)
            .first()
        )
    context = RoomContext(
        session_id=pk,
        group_id=row.group_id,
        user_id=actor.pk,
        member_id=row.member_id,
        display_name=row.display_name,
        role=row.role,
        is_host=is_host,
        attendance_id=attendance_id,
    )
    state = events.session_state(
        session_id=pk,
        title=row.title,
        status=row.status,
        member_id=row.member_id,
        role=row.role,
        is_host=is_host,
        muted_until=muted_until,
        present=room_present(session_id=pk),
        round_state=round_state(pk) if row.round_id is not None else None,
        last_seq=row.last_seq,
    )
    realtime.broadcast_on_commit(
        events.session_group(pk),
        events.presence(
            member_id=row.member_id,
            display_name=row.display_name,
            role=row.role,
            status=PresenceStatus.HERE,
        ),
    )
    return context, state


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


@transaction.atomic
def room_leave(*, context: RoomContext) -> None:
    """Close one connection's attendance; when it was her last, tell the room she left.

    A member who leaves while it is her turn in a round passes, so the round goes on.
    """
    statements = sql.room()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(statements["leave"], [sql.db_time(now), context.attendance_id])
        horizon = sql.db_time(now - PRESENCE_WINDOW)
        session_id, member_id = context.session_id, context.member_id
        cursor.execute(statements["after_leave"], [session_id, member_id, horizon, session_id])
        after = sql.AfterLeaveRow(*cursor.fetchone())
    if after.still_here:
        return
    realtime.broadcast_on_commit(
        events.session_group(context.session_id),
        events.presence(
            member_id=context.member_id,
            display_name=context.display_name,
            role=context.role,
            status="left",
        ),
    )
    if after.open_rounds:
        round_pass_for(session_id=context.session_id, member_id=context.member_id)


def room_touch_many(*, beats: list[Beat]) -> dict[int, tuple[int, int | None]]:
    """The heartbeat of every live connection of a process, in five queries whatever their
    number: keep them present, and answer per attendance id the session's newest seq and the
    close code if the connection may no longer stay (signed out, removed, session ended).

    Closing is normally pushed at once through the channel layer; this check makes it hold
    even when that push was lost (a Redis restart).
    """
    if not beats:
        return {}
    Attendance.objects.filter(pk__in=[b.attendance_id for b in beats]).update(
        last_seen_at=timezone.now()
    )
    session_ids = {b.session_id for b in beats}
    sessions = {
        pk: (last_seq, status)
        for pk, last_seq, status in Session.objects.filter(pk__in=session_ids).values_list(
            "pk", "last_seq", "status"
        )
    }
    active_users = set(
        User.objects.filter(pk__in={b.user_id for b in beats}, is_active=True).values_list(
            "pk", flat=True
        )
    )
    token_ids = {b.token_id for b in beats if b.token_id is not None}
    live_tokens = set(ApiToken.objects.filter(pk__in=token_ids).values_list("pk", flat=True))
    allowed = set(
        Participant.objects.filter(
            session_id__in=session_ids,
            membership_id__in={b.member_id for b in beats},
            removed_at__isnull=True,
            membership__status=MembershipStatus.ACTIVE,
        ).values_list("session_id", "membership_id")
    )
    answers: dict[int, tuple[int, int | None]] = {}
    for beat in beats:
        last_seq, status = sessions.get(beat.session_id, (0, SessionStatus.ENDED))
        code: int | None = None
        if beat.user_id not in active_users or (
            beat.token_id is not None and beat.token_id not in live_tokens
        ):
            code = closecodes.NOT_SIGNED_IN
        elif (beat.session_id, beat.member_id) not in allowed:
            code = closecodes.FORBIDDEN
        elif status == SessionStatus.ENDED:
            code = closecodes.NOT_OPEN
        answers[beat.attendance_id] = (last_seq, code)
    return answers


@transaction.atomic
def presence_set(*, actor: User, context: RoomContext, status: Any) -> None:
    """She is here, or has stepped out for a moment; the room sees which."""
    if status not in PresenceStatus.values:
        raise ValidationFailed({"status": [_("Choose here or stepped_out.")]})
    Attendance.objects.filter(pk=context.attendance_id).update(
        status=status, last_seen_at=timezone.now()
    )
    realtime.broadcast_on_commit(
        events.session_group(context.session_id),
        events.presence(
            member_id=context.member_id,
            display_name=context.display_name,
            role=context.role,
            status=status,
        ),
    )


@transaction.atomic
def support_request(*, actor: User, context: RoomContext, note: Any = None) -> None:
    """A private "I need support" to the hosts present; the note is never stored."""
    text = clean_text(note, field="note", max_length=SUPPORT_NOTE_MAX, required=False)
    participant_get(context)
    realtime.broadcast_on_commit(
        events.hosts_group(context.session_id),
        events.support_requested(
            member_id=context.member_id, display_name=context.display_name, note=text or None
        ),
    )
    audit_record(
        actor=actor,
        action="support.requested",
        target_type="session",
        target_id=context.session_id,
        group_id=context.group_id,
        extra={"member_id": context.member_id},
    )
