"""Writes for sessions, plans, attendance, member preferences and the durable session log.

Keyword-only arguments, actor first; each function authorises through `groups.policies`,
runs in one transaction, audits, and broadcasts only after commit.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import (
    Attendance,
    Message,
    Participant,
    PlanItem,
    PlanItemKind,
    PresenceStatus,
    Round,
    Session,
    SessionEvent,
    SessionKind,
    SessionStatus,
)
from facilitation.taxonomy import CONTENT_WARNING_KEYS
from groups.models import (
    Agreement,
    AgreementAcceptance,
    ApiToken,
    Group,
    GroupRole,
    Membership,
    MembershipStatus,
    User,
)
from groups.policies import Action, can, is_signed_in, require
from groups.services import agreement_current
from project import realtime
from project.audit import audit_record
from project.exceptions import (
    MAX_ID,
    ApplicationError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    parse_id,
)

CW_SHOW, CW_COLLAPSE = "show", "collapse"
SESSION_TITLE_MAX = 120
SESSION_MAX_LENGTH = timedelta(hours=12)
PLAN_MAX_ITEMS = 30
PLAN_ITEM_MINUTES_MAX = 240
PLAN_NOTES_MAX = 2000
STATUS_NOTE_MAX = 500
CLOSE_NOT_OPEN = 4410

# The only moves a session's status may make (PROTOCOL.md "Session status").
TRANSITIONS: dict[str, frozenset[str]] = {
    SessionStatus.SCHEDULED: frozenset({SessionStatus.OPEN}),
    SessionStatus.OPEN: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.LIVE: frozenset({SessionStatus.PAUSED, SessionStatus.ENDED}),
    SessionStatus.PAUSED: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.ENDED: frozenset(),
}


# --- content-warning preferences -------------------------------------------------------------


def preferences_effective(user: User) -> dict[str, Any]:
    """A member's preferences with every taxonomy category filled in (default: collapse)."""
    stored = (user.preferences or {}).get("content_warnings", {})
    choices = {key: stored.get(key, CW_COLLAPSE) for key in sorted(CONTENT_WARNING_KEYS)}
    return {**(user.preferences or {}), "content_warnings": choices}


def preferences_update(*, actor: User, content_warnings: Any) -> User:
    """Set how content warnings reach this member, per category: `show` or `collapse`."""
    if not isinstance(content_warnings, dict):
        raise ValidationFailed(
            {"preferences.content_warnings": [_("Give a choice for each category.")]}
        )
    fields: dict[str, list[str]] = {}
    for key, choice in content_warnings.items():
        if key not in CONTENT_WARNING_KEYS:
            fields[f"preferences.content_warnings.{key}"] = [_("There is no such category.")]
        elif choice not in {CW_SHOW, CW_COLLAPSE}:
            fields[f"preferences.content_warnings.{key}"] = [_("Choose show or collapse.")]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        preferences = dict(user.preferences or {})
        merged = {**preferences.get("content_warnings", {}), **content_warnings}
        preferences["content_warnings"] = merged
        user.preferences = preferences
        user.save(update_fields=["preferences"])
        audit_record(
            actor=actor,
            action="preferences.updated",
            target=user,
            extra={"categories": len(content_warnings)},
        )
    return user


def _clean_content_warnings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ValidationFailed({field: [_("Give a list of content-warning keys.")]})
    unknown = sorted(set(value) - CONTENT_WARNING_KEYS)
    if unknown:
        raise ValidationFailed({field: [_("Unknown content-warning categories.")]})
    return sorted(set(value), key=value.index)


# --- sessions --------------------------------------------------------------------------------


def _clean_times(starts_at: Any, ends_at: Any) -> None:
    if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime):
        raise ValidationFailed({"starts_at": [_("Give a start and an end time.")]})
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationFailed({"starts_at": [_("Give times with a time zone.")]})
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": [_("The end must come after the start.")]})
    if ends_at - starts_at > SESSION_MAX_LENGTH:
        raise ValidationFailed({"ends_at": [_("A session lasts at most 12 hours.")]})


def _clean_co_hosts(group: Group, member_ids: Any) -> list[Membership]:
    if member_ids is None:
        return []
    if not isinstance(member_ids, list) or any(
        isinstance(m, bool) or not isinstance(m, int) or not 0 < m <= MAX_ID for m in member_ids
    ):
        raise ValidationFailed({"co_hosts": [_("Give a list of member ids.")]})
    wanted = set(member_ids)
    found = list(
        Membership.objects.filter(
            group=group,
            pk__in=wanted,
            role=GroupRole.PEER_MENTOR,
            status=MembershipStatus.ACTIVE,
        )
    )
    if len(found) != len(wanted):
        raise ValidationFailed({"co_hosts": [_("Co-hosts must be peer mentors of this group.")]})
    return found


def _clean_title(title: Any) -> str:
    text = " ".join(title.split()) if isinstance(title, str) else ""
    if not text:
        raise ValidationFailed({"title": [_("Give the session a title.")]})
    if len(text) > SESSION_TITLE_MAX:
        raise ValidationFailed(
            {"title": [_("Use at most %(max)d characters.") % {"max": SESSION_TITLE_MAX}]}
        )
    return text


@transaction.atomic
def session_create(
    *,
    actor: User,
    group: Group,
    title: Any,
    starts_at: Any,
    ends_at: Any,
    kind: Any = SessionKind.BOOKED,
    content_warnings: Any = None,
    co_hosts: Any = None,
) -> Session:
    require(actor, Action.SESSION_CREATE, group=group)
    clean_title = _clean_title(title)
    _clean_times(starts_at, ends_at)
    if kind not in SessionKind.values:
        raise ValidationFailed({"kind": [_("Choose booked or drop_in.")]})
    warnings = _clean_content_warnings(content_warnings, "content_warnings")
    hosts = _clean_co_hosts(group, co_hosts)
    session = Session.objects.create(
        group=group,
        title=clean_title,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        content_warnings=warnings,
        created_by=actor,
    )
    session.co_hosts.set(hosts)
    audit_record(
        actor=actor,
        action="session.created",
        target=session,
        group_id=group.pk,
        extra={"kind": kind, "co_hosts": sorted(m.pk for m in hosts)},
    )
    return session


@transaction.atomic
def session_update(*, actor: User, session: Session, **changes: Any) -> Session:
    """Change a session's details; a `status` change goes through `session_set_status`."""
    require(actor, Action.SESSION_UPDATE, session=session, visible=Action.SESSION_VIEW)
    session = Session.objects.select_for_update().get(pk=session.pk)
    changed: list[str] = []
    if "title" in changes:
        session.title = _clean_title(changes["title"])
        changed.append("title")
    if "starts_at" in changes or "ends_at" in changes:
        starts_at = changes.get("starts_at", session.starts_at)
        ends_at = changes.get("ends_at", session.ends_at)
        _clean_times(starts_at, ends_at)
        session.starts_at, session.ends_at = starts_at, ends_at
        changed += ["starts_at", "ends_at"]
    if "kind" in changes:
        if changes["kind"] not in SessionKind.values:
            raise ValidationFailed({"kind": [_("Choose booked or drop_in.")]})
        session.kind = changes["kind"]
        changed.append("kind")
    if "content_warnings" in changes:
        session.content_warnings = _clean_content_warnings(
            changes["content_warnings"], "content_warnings"
        )
        changed.append("content_warnings")
    hosts = None
    if "co_hosts" in changes:
        hosts = _clean_co_hosts(session.group, changes["co_hosts"])
    if session.status == SessionStatus.ENDED and (changed or hosts is not None):
        raise Conflict(_("This session has ended and can no longer change."), code="ended")
    if changed:
        session.save(update_fields=changed)
    if hosts is not None:
        session.co_hosts.set(hosts)
        changed.append("co_hosts")
    if changed:
        audit_record(
            actor=actor,
            action="session.updated",
            target=session,
            group_id=session.group_id,
            extra={"fields": sorted(set(changed))},
        )
    if "status" in changes:
        session = session_set_status(
            actor=actor, session=session, status=changes["status"], note=changes.get("note")
        )
    return session


def event_append(
    *, session: Session, event: dict[str, Any], message: Message | None = None
) -> dict[str, Any]:
    """Append a durable event with the session's next seq; broadcast it after commit.

    The caller holds the session row lock (`select_for_update`) inside its transaction, so
    concurrent writers take seqs one after another, with no gaps and no reordering. A
    `message` event keeps its text in the (encrypted) message row, not in the log; replay
    rebuilds it from there, so a hidden or purged body never comes back. (`message_post`
    writes the same seq bump, log row and broadcast in plain SQL, being the hot path.)
    Returns the event as sent, with its `seq`.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_append must run inside the writer's transaction")
    session.last_seq += 1
    Session.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    kind = event["type"]
    payload = (
        {} if message is not None else {k: v for k, v in event.items() if k not in {"type", "seq"}}
    )
    SessionEvent.objects.create(
        session=session, seq=session.last_seq, type=kind, payload=payload, message=message
    )
    sent = {
        "type": kind,
        "seq": session.last_seq,
        **{k: v for k, v in event.items() if k != "type"},
    }
    realtime.broadcast_on_commit(events.session_group(session.pk), sent)
    return sent


@transaction.atomic
def session_set_status(*, actor: User, session: Session, status: Any, note: Any = None) -> Session:
    """Move a session along scheduled → open → live ⇄ paused → ended; nothing else.

    Hosts open, start, pause and resume; only facilitators end. A session cannot leave
    `scheduled` while its group has no published agreement.
    """
    if status not in SessionStatus.values:
        raise ValidationFailed({"status": [_("Unknown status.")]})
    action = Action.SESSION_END if status == SessionStatus.ENDED else Action.SESSION_HOST
    require(actor, action, session=session, visible=Action.SESSION_VIEW)
    if note is not None and not isinstance(note, str):
        raise ValidationFailed({"note": [_("Write the note in words.")]})
    clean_note = (note or "").strip() or None
    if clean_note is not None and len(clean_note) > STATUS_NOTE_MAX:
        raise ValidationFailed(
            {"note": [_("Use at most %(max)d characters.") % {"max": STATUS_NOTE_MAX}]}
        )
    session = Session.objects.select_for_update().get(pk=session.pk)
    if status not in TRANSITIONS[session.status]:
        raise Conflict(
            _("A session that is %(current)s cannot become %(wanted)s.")
            % {"current": session.status, "wanted": status},
            code="invalid_transition",
            extra={"status": session.status},
        )
    if session.status == SessionStatus.SCHEDULED and agreement_current(session.group_id) is None:
        raise Conflict(
            _("Publish the group's agreement before opening a session."), code="agreement_missing"
        )
    previous = session.status
    session.status = status
    session.save(update_fields=["status"])
    event_append(session=session, event=events.session_status(status=status, note=clean_note))
    if status == SessionStatus.ENDED:
        # The room closes for everyone once the ended event has gone out.
        realtime.close_on_commit(events.session_group(session.pk), CLOSE_NOT_OPEN)
    audit_record(
        actor=actor,
        action="session.status_changed",
        target=session,
        group_id=session.group_id,
        extra={"from": previous, "to": status},
    )
    return session


# --- plans -----------------------------------------------------------------------------------


def _clean_plan(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise ValidationFailed({"items": [_("Give a list of agenda items.")]})
    if len(items) > PLAN_MAX_ITEMS:
        raise ValidationFailed(
            {"items": [_("Use at most %(max)d items.") % {"max": PLAN_MAX_ITEMS}]}
        )
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, dict):
            raise ValidationFailed({where: [_("Each item needs a title, kind and minutes.")]})
        title = (
            " ".join(item.get("title", "").split()) if isinstance(item.get("title"), str) else ""
        )
        if not title or len(title) > SESSION_TITLE_MAX:
            raise ValidationFailed({f"{where}.title": [_("Give a title of up to 120 characters.")]})
        if item.get("kind") not in PlanItemKind.values:
            raise ValidationFailed({f"{where}.kind": [_("Unknown kind of item.")]})
        minutes = item.get("minutes")
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 1 <= minutes <= PLAN_ITEM_MINUTES_MAX
        ):
            raise ValidationFailed({f"{where}.minutes": [_("Between 1 and 240 minutes.")]})
        notes = item.get("notes") or ""
        if not isinstance(notes, str) or len(notes) > PLAN_NOTES_MAX:
            raise ValidationFailed({f"{where}.notes": [_("Notes of up to 2000 characters.")]})
        cleaned.append(
            {
                "title": title,
                "kind": item["kind"],
                "minutes": minutes,
                "notes": notes.strip(),
                "content_warnings": _clean_content_warnings(
                    item.get("content_warnings"), f"{where}.content_warnings"
                ),
            }
        )
    return cleaned


@transaction.atomic
def plan_replace(*, actor: User, session: Session, items: Any) -> list[PlanItem]:
    """Replace the whole plan at once: every item is stored, or none is."""
    require(actor, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    cleaned = _clean_plan(items)
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.status == SessionStatus.ENDED:
        raise Conflict(_("This session has ended and can no longer change."), code="ended")
    PlanItem.objects.filter(session=session).delete()
    rows = PlanItem.objects.bulk_create(
        PlanItem(session=session, position=position, **item)
        for position, item in enumerate(cleaned)
    )
    audit_record(
        actor=actor,
        action="plan.replaced",
        target=session,
        group_id=session.group_id,
        extra={"items": len(rows)},
    )
    return rows


# --- attendance ------------------------------------------------------------------------------


def attendance_join(*, membership: Membership, session: Session) -> Attendance:
    return Attendance.objects.create(session=session, membership=membership)


def attendance_leave(*, attendance_id: int) -> None:
    Attendance.objects.filter(pk=attendance_id, left_at__isnull=True).update(left_at=timezone.now())


# --- the live room ---------------------------------------------------------------------------

BODY_MAX = 4000
# A member may send this many messages per window, across all her tabs and server processes.
RATE_LIMIT_MESSAGES = 8
RATE_LIMIT_WINDOW = timedelta(seconds=10)
CW_NOTE_MAX = 200
REASON_MAX = 500
ROUND_PROMPT_MAX = 500
SUPPORT_NOTE_MAX = 500
MUTE_MINUTES_MIN, MUTE_MINUTES_MAX = 1, 120
# A connection counts as present while its heartbeat is newer than this.
PRESENCE_WINDOW = timedelta(seconds=90)
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NO_SESSION = 4404
CLOSE_AGREEMENT = 4409


class RoomRefused(Exception):
    """Entering the room is refused; `code` is the WebSocket close code of PROTOCOL.md."""

    def __init__(self, code: int) -> None:
        super().__init__(f"room refused with {code}")
        self.code = code


@dataclass
class RoomContext:
    """What one connection knows about its member; kept current by events (rule 9)."""

    session_id: int
    group_id: int
    user_id: int
    member_id: int
    display_name: str
    role: str
    is_host: bool
    is_facilitator: bool
    attendance_id: int
    muted_until: datetime | None = None

    @property
    def author(self) -> dict[str, Any]:
        return events.author(
            member_id=self.member_id, display_name=self.display_name, role=self.role
        )


def _present(session_id: int) -> list[dict[str, Any]]:
    """Members with a live connection to the room, with `here` winning over `stepped_out`."""
    sql = _room_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            sql["present"],
            [session_id, _db_time(timezone.now() - PRESENCE_WINDOW), MembershipStatus.ACTIVE],
        )
        rows = cursor.fetchall()
    present: dict[int, dict[str, Any]] = {}
    for member_id, display_name, role, status in rows:
        entry = present.setdefault(
            member_id,
            {"member_id": member_id, "display_name": display_name, "role": role, "status": status},
        )
        if status == PresenceStatus.HERE:
            entry["status"] = PresenceStatus.HERE
    return list(present.values())


def _active_round(session_id: int, *, lock: bool = False) -> Round | None:
    rows = Round.objects.filter(session_id=session_id, ended_at__isnull=True)
    if lock:
        rows = rows.select_for_update()
    return rows.order_by("-started_at").first()


def _round_state(session_id: int) -> dict[str, Any] | None:
    active = _active_round(session_id)
    if active is None:
        return None
    return {"prompt": active.prompt, "order": active.order, "current": active.current}


def _db_time(value: datetime) -> Any:
    """A datetime as the database backend takes it in a plain-SQL parameter."""
    return connection.ops.adapt_datetimefield_value(value)


@functools.cache
def _room_sql() -> dict[str, str]:
    """The plain-SQL statements of entering and leaving a room, built once.

    Plain SQL because entering is what a reconnecting phone does, and the ORM's compiler cost
    more CPU there than the database did (docs/performance.md). Portable between PostgreSQL
    and SQLite (3.35+).
    """
    q = connection.ops.quote_name
    session = q(Session._meta.db_table)
    member = q(Membership._meta.db_table)
    participant = q(Participant._meta.db_table)
    attendance = q(Attendance._meta.db_table)
    co_hosts = q(Session.co_hosts.through._meta.db_table)
    agreement = q(Agreement._meta.db_table)
    accepted = q(AgreementAcceptance._meta.db_table)
    rounds = q(Round._meta.db_table)
    # Only table names are formatted in (from _meta, quoted); every value is a parameter.
    return {
        # Everything entering decides on, in one read: the session, her active membership of
        # its group, what the hosts decided about her in it, whether she accepted the group's
        # current agreement, whether the session names her co-host, and its open round.
        "enter": (
            "SELECT s.id, s.group_id, s.title, s.status, s.last_seq, "  # noqa: S608
            "m.id, m.display_name, m.role, p.id, p.removed_at IS NULL, "
            "CASE WHEN p.muted_until > %s THEN 1 ELSE 0 END, "
            f"(SELECT COUNT(*) FROM {accepted} a WHERE a.membership_id = m.id AND "
            f"a.agreement_id = (SELECT g.id FROM {agreement} g WHERE g.group_id = s.group_id "
            "ORDER BY g.version DESC LIMIT 1)), "
            f"(SELECT COUNT(*) FROM {co_hosts} c WHERE c.session_id = s.id "
            "AND c.membership_id = m.id), "
            f"(SELECT r.id FROM {rounds} r WHERE r.session_id = s.id AND r.ended_at IS NULL "
            "ORDER BY r.started_at DESC LIMIT 1) "
            f"FROM {session} s LEFT JOIN {member} m ON m.group_id = s.group_id "
            "AND m.user_id = %s AND m.status = %s "
            f"LEFT JOIN {participant} p ON p.session_id = s.id AND p.membership_id = m.id "
            "WHERE s.id = %s"
        ),
        "participant": (
            f"INSERT INTO {participant} (session_id, membership_id, mute_reason, "  # noqa: S608
            "remove_reason) VALUES (%s, %s, '', '') "
            "ON CONFLICT (session_id, membership_id) DO NOTHING"
        ),
        "attendance": (
            f"INSERT INTO {attendance} (session_id, membership_id, joined_at, "  # noqa: S608
            "last_seen_at, status) VALUES (%s, %s, %s, %s, %s) RETURNING id"
        ),
        "present": (
            "SELECT a.membership_id, m.display_name, m.role, a.status "  # noqa: S608
            f"FROM {attendance} a JOIN {member} m ON m.id = a.membership_id "
            "WHERE a.session_id = %s AND a.left_at IS NULL AND a.last_seen_at >= %s "
            "AND m.status = %s ORDER BY a.joined_at, a.id"
        ),
        "leave": (
            f"UPDATE {attendance} SET left_at = %s WHERE id = %s AND left_at IS NULL"  # noqa: S608
        ),
        # After leaving: is she still here on another connection, and is a round open?
        "after_leave": (
            f"SELECT (SELECT COUNT(*) FROM {attendance} WHERE session_id = %s "  # noqa: S608
            "AND membership_id = %s AND left_at IS NULL AND last_seen_at >= %s), "
            f"(SELECT COUNT(*) FROM {rounds} WHERE session_id = %s AND ended_at IS NULL)"
        ),
    }


@transaction.atomic
def room_enter(*, actor: User, session_id: Any) -> tuple[RoomContext, dict[str, Any]]:
    """Let a member into a session's room; returns her context and the `session.state` event.

    Refusals carry the close code: 4401 not signed in, 4403 not (or no longer) a member or
    removed from this session, 4404 no such session or not visible, 4409 the current
    agreement is not accepted, 4410 the session is not open (hosts may enter a scheduled one).

    One read decides (see `_room_sql`), then the participant row (first entry only) and the
    attendance row are written; the roles come from `groups.policies` as everywhere else.
    """
    if not is_signed_in(actor):
        raise RoomRefused(CLOSE_NOT_SIGNED_IN)
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        raise RoomRefused(CLOSE_NO_SESSION) from None
    sql = _room_sql()
    now = timezone.now()
    db_now = _db_time(now)
    with connection.cursor() as cursor:
        cursor.execute(sql["enter"], [db_now, actor.pk, MembershipStatus.ACTIVE, pk])
        row = cursor.fetchone()
        if row is None:
            raise RoomRefused(CLOSE_NO_SESSION)
        (
            _pk,
            group_id,
            title,
            status,
            last_seq,
            member_id,
            display_name,
            role,
            participant_id,
            not_removed,
            muted,
            accepted,
            co_host,
            round_id,
        ) = row
        session = Session(id=pk, group_id=group_id, title=title, status=status, last_seq=last_seq)
        if member_id is None:
            ever = Membership.objects.filter(group_id=group_id, user_id=actor.pk).exists()
            visible = can(actor, Action.SESSION_VIEW, session=session)
            raise RoomRefused(CLOSE_FORBIDDEN if ever or visible else CLOSE_NO_SESSION)
        membership = Membership(
            id=member_id,
            group_id=group_id,
            user_id=actor.pk,
            display_name=display_name,
            role=role,
            status=MembershipStatus.ACTIVE,
        )
        # `Session.is_co_host` reads this instead of querying again.
        session._prefetched_objects_cache = {"co_hosts": [membership] if co_host else []}
        if participant_id is not None and not not_removed:
            raise RoomRefused(CLOSE_FORBIDDEN)
        if not accepted:
            raise RoomRefused(CLOSE_AGREEMENT)
        is_host = can(actor, Action.SESSION_HOST, session=session, membership=membership)
        if status == SessionStatus.ENDED or (status == SessionStatus.SCHEDULED and not is_host):
            raise RoomRefused(CLOSE_NOT_OPEN)
        if participant_id is None:
            cursor.execute(sql["participant"], [pk, member_id])
        cursor.execute(sql["attendance"], [pk, member_id, db_now, db_now, PresenceStatus.HERE])
        attendance_id = cursor.fetchone()[0]
    muted_until = None
    if muted:
        muted_until = (
            Participant.objects.filter(session_id=pk, membership_id=member_id)
            .values_list("muted_until", flat=True)
            .first()
        )
    context = RoomContext(
        session_id=pk,
        group_id=group_id,
        user_id=actor.pk,
        member_id=member_id,
        display_name=display_name,
        role=role,
        is_host=is_host,
        is_facilitator=can(actor, Action.SESSION_END, session=session, membership=membership),
        attendance_id=attendance_id,
        muted_until=muted_until,
    )
    state = {
        "type": "session.state",
        "session": {"id": pk, "title": title, "status": status},
        "me": {
            "member_id": member_id,
            "role": role,
            "is_host": is_host,
            "muted_until": events.stamp(muted_until),
        },
        "present": _present(pk),
        "round": _round_state(pk) if round_id is not None else None,
        "last_seq": last_seq,
    }
    realtime.broadcast_on_commit(
        events.session_group(pk),
        events.presence(
            member_id=member_id, display_name=display_name, role=role, status=PresenceStatus.HERE
        ),
    )
    return context, state


@transaction.atomic
def room_leave(*, context: RoomContext) -> None:
    """Close one connection's attendance; when it was her last, tell the room she left.

    A member who leaves while it is her turn in a round passes, so the round goes on.
    """
    sql = _room_sql()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql["leave"], [_db_time(now), context.attendance_id])
        horizon = _db_time(now - PRESENCE_WINDOW)
        session_id, member_id = context.session_id, context.member_id
        cursor.execute(sql["after_leave"], [session_id, member_id, horizon, session_id])
        still_here, open_rounds = cursor.fetchone()
    if still_here:
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
    if not open_rounds:
        return
    active = _active_round(context.session_id, lock=True)
    if active is not None and active.current == context.member_id:
        session = Session.objects.select_for_update().get(pk=context.session_id)
        _round_advance(session=session, active=active, passed=True)


@dataclass(frozen=True)
class Beat:
    """One live connection, as the heartbeat sees it."""

    attendance_id: int
    session_id: int
    member_id: int
    user_id: int
    token_id: int | None


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
            code = CLOSE_NOT_SIGNED_IN
        elif (beat.session_id, beat.member_id) not in allowed:
            code = CLOSE_FORBIDDEN
        elif status == SessionStatus.ENDED:
            code = CLOSE_NOT_OPEN
        answers[beat.attendance_id] = (last_seq, code)
    return answers


def _clean_content_warning(value: Any) -> tuple[str, str]:
    """(category, note) from a `content_warning` field; ("", "") for none."""
    if value is None:
        return "", ""
    if not isinstance(value, dict):
        raise ValidationFailed({"content_warning": [_("Give a category, or null.")]})
    category = value.get("category")
    if not isinstance(category, str) or category not in CONTENT_WARNING_KEYS:
        raise ValidationFailed({"content_warning.category": [_("There is no such category.")]})
    note = value.get("note") or ""
    if not isinstance(note, str) or len(note) > CW_NOTE_MAX:
        raise ValidationFailed(
            {
                "content_warning.note": [
                    _("A note of up to %(max)d characters.") % {"max": CW_NOTE_MAX}
                ]
            }
        )
    return category, note.strip()


def _clean_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed({"body": [_("Write a message first.")]})
    if len(body) > BODY_MAX:
        raise ApplicationError(
            _("Messages can be up to %(max)d characters.") % {"max": BODY_MAX}, code="too_long"
        )
    return body


def _clean_client_id(client_id: Any) -> uuid.UUID:
    if isinstance(client_id, str):
        try:
            return uuid.UUID(client_id)
        except ValueError:
            pass
    raise ValidationFailed({"client_id": [_("Give a UUID.")]})


def _message_event(message: Message, seq: int) -> dict[str, Any]:
    member = message.author
    author_data = (
        events.author(member_id=member.pk, display_name=member.display_name, role=member.role)
        if member is not None
        else None
    )
    hidden = message.hidden_at is not None or message.purged_at is not None
    event = events.message(
        message_id=message.pk,
        author_data=author_data,
        body=None if hidden else message.body,
        content_warning=message.content_warning,
        sent_at=message.sent_at,
        client_id=str(message.client_id),
        hidden=hidden,
    )
    return {"type": event.pop("type"), "seq": seq, **event}


def _participant(context: RoomContext, *, lock: bool = False) -> Participant:
    rows = Participant.objects.select_related("membership").filter(
        session_id=context.session_id, membership_id=context.member_id
    )
    if lock:
        rows = rows.select_for_update()
    participant = rows.first()
    if (
        participant is None
        or participant.removed_at is not None
        or participant.membership.status != MembershipStatus.ACTIVE
        or participant.membership.user_id != context.user_id
    ):
        raise Forbidden(_("You are no longer in this session."))
    return participant


def rate_limited() -> ApplicationError:
    """The refusal of one message too many (see `message_post`)."""
    return ApplicationError(
        _("You are sending messages very fast. Please wait a moment."), code="rate_limited"
    )


class _PostRefused(Exception):
    """Rolls back a post whose lock or insert found it must not be stored as it is."""


@functools.cache
def _post_sql() -> dict[str, str]:
    """The statements of `message_post`, built once from the models' own table names.

    Plain SQL because the ORM's compiler costs more CPU than the database does on this path
    (docs/performance.md); every statement is portable between PostgreSQL and SQLite (3.35+).
    """
    q = connection.ops.quote_name
    message = q(Message._meta.db_table)
    member = q(Membership._meta.db_table)
    participant = q(Participant._meta.db_table)
    session = q(Session._meta.db_table)
    event = q(SessionEvent._meta.db_table)
    # Only table names are formatted in (from _meta, quoted); every value is a parameter.
    recent = f"(SELECT COUNT(*) FROM {message} WHERE author_id = %s AND sent_at >= %s)"  # noqa: S608
    return {
        # Who she is now (removed, muted, left the group, renamed) and her recent messages,
        # read without a lock so a refused post never waits behind the room's writers.
        "check": (
            f"SELECT p.removed_at IS NULL, "  # noqa: S608
            f"CASE WHEN p.muted_until > %s THEN 1 ELSE 0 END, "
            f"m.status, m.user_id, m.display_name, m.role, {recent}, "
            f"(SELECT id FROM {message} WHERE session_id = %s AND author_id = %s "
            f"AND client_id = %s) "
            f"FROM {participant} p JOIN {member} m ON m.id = p.membership_id "
            f"WHERE p.session_id = %s AND p.membership_id = %s"
        ),
        # The session row lock orders every writer of the room and hands out the next seq.
        "lock": (
            f"UPDATE {session} SET last_seq = last_seq + 1 WHERE id = %s "  # noqa: S608
            "RETURNING last_seq, status"
        ),
        # Under the lock: a resend of the same client_id, or one message too many from
        # another tab, inserts nothing.
        "insert": (
            f"INSERT INTO {message} (session_id, author_id, client_id, body, cw_category, "
            f"cw_note, sent_at, hide_reason) SELECT %s, %s, %s, %s, %s, %s, %s, '' "
            f"WHERE {recent} < %s "
            f"ON CONFLICT (session_id, author_id, client_id) DO NOTHING RETURNING id"
        ),
        "event": (
            f"INSERT INTO {event} (session_id, seq, type, payload, message_id, created_at) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s, %s)"
        ),
        # The log row of the message this transaction just inserted, with the seq its lock
        # took, for a caller that sends every statement before reading any answer
        # (`message_post_fast`); a resend's message already has its row and gets none.
        "event_pipelined": (
            f"INSERT INTO {event} (session_id, seq, type, payload, message_id, created_at) "  # noqa: S608
            f"SELECT s.id, s.last_seq, %s, %s, m.id, %s FROM {session} s JOIN {message} m "
            f"ON m.session_id = s.id WHERE s.id = %s AND m.author_id = %s AND m.client_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {event} e WHERE e.message_id = m.id) "
            f"RETURNING seq, message_id"
        ),
    }


def _post_existing(context: RoomContext, client_uuid: uuid.UUID) -> tuple[dict[str, Any], bool]:
    """The event of a message this member already sent with this client_id."""
    existing = (
        Message.objects.select_related("author")
        .filter(session_id=context.session_id, author_id=context.member_id, client_id=client_uuid)
        .first()
    )
    if existing is None:
        raise rate_limited()
    seq = SessionEvent.objects.filter(message=existing).values_list("seq", flat=True)[0]
    return _message_event(existing, seq), False


def _post_refusal(actor: User, context: RoomContext, status: str) -> None:
    """Raise why a session in `status` (not live) refuses this post, if it does.

    Members post only while the session is live; hosts also while it is open or paused.
    """
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    is_host = can(actor, Action.SESSION_HOST, session=session)
    if status == SessionStatus.PAUSED and not is_host:
        raise ApplicationError(
            _("The room is paused for a grounding break."), code="session_paused"
        )
    if status not in {SessionStatus.OPEN, SessionStatus.PAUSED} or not is_host:
        raise ApplicationError(_("The session has not started yet."), code="not_live")


@dataclass
class _Post:
    """One `message.send`, validated, with the parameters of its statements (`_post_sql`)."""

    context: RoomContext
    text: str
    category: str
    note: str
    client_uuid: uuid.UUID
    now: datetime
    db_now: Any
    db_client: Any
    payload: Any
    check: list[Any]
    insert: list[Any]

    def plain(self, row: tuple[Any, ...] | None) -> bool:
        """Does the check row allow this post with nothing to explain (no refusal, no resend)?"""
        if row is None:
            return False
        present, muted, status, user_id, _name, _role, recent, existing = row
        return bool(
            present
            and status == MembershipStatus.ACTIVE
            and user_id == self.context.user_id
            and existing is None
            and not muted
            and recent < RATE_LIMIT_MESSAGES
        )

    def event_params(self, seq: int, message_id: int) -> list[Any]:
        """The log row's values (`event`), once the seq and the message id are known."""
        return [self.context.session_id, seq, "message", self.payload, message_id, self.db_now]

    def event_pipelined_params(self) -> list[Any]:
        """The log row's values (`event_pipelined`), sent before any answer is read."""
        context = self.context
        return [
            "message",
            self.payload,
            self.db_now,
            context.session_id,
            context.member_id,
            self.db_client,
        ]

    @property
    def room_group(self) -> str:
        return events.session_group(self.context.session_id)

    def posted(self, seq: int, message_id: int, display_name: str, role: str) -> dict[str, Any]:
        """The `message` event the room receives."""
        event = events.message(
            message_id=message_id,
            author_data=events.author(
                member_id=self.context.member_id, display_name=display_name, role=role
            ),
            body=self.text,
            content_warning=(
                {"category": self.category, "note": self.note or None} if self.category else None
            ),
            sent_at=self.now,
            client_id=str(self.client_uuid),
        )
        return {"type": event.pop("type"), "seq": seq, **event}


def _post_prepare(context: RoomContext, body: Any, content_warning: Any, client_id: Any) -> _Post:
    """Validate a `message.send` (raises ValidationFailed) and build its statements' values."""
    client_uuid = _clean_client_id(client_id)
    text = _clean_body(body)
    category, note = _clean_content_warning(content_warning)
    fields = Message._meta
    now = timezone.now()
    db_now, db_since = _db_time(now), _db_time(now - RATE_LIMIT_WINDOW)
    db_client = fields.get_field("client_id").get_db_prep_value(client_uuid, connection)
    member_id, session_id = context.member_id, context.session_id
    return _Post(
        context=context,
        text=text,
        category=category,
        note=note,
        client_uuid=client_uuid,
        now=now,
        db_now=db_now,
        db_client=db_client,
        payload=SessionEvent._meta.get_field("payload").get_db_prep_value({}, connection),
        check=[
            db_now,
            member_id,
            db_since,
            session_id,
            member_id,
            db_client,
            session_id,
            member_id,
        ],
        insert=[
            session_id,
            member_id,
            db_client,
            fields.get_field("body").get_db_prep_value(text, connection),
            category,
            fields.get_field("cw_note").get_db_prep_value(note, connection),
            db_now,
            member_id,
            db_since,
            RATE_LIMIT_MESSAGES,
        ],
    )


def message_post(
    *, actor: User, context: RoomContext, body: Any, content_warning: Any, client_id: Any
) -> tuple[dict[str, Any], bool]:
    """Store a message and append it to the log; returns (event, created).

    Resending the same `client_id` stores nothing new and returns the first event, so a
    client that lost the ack can retry safely. Members post only while the session is live;
    hosts also while it is open or paused. A muted member is refused until the mute ends, and
    a member may send RATE_LIMIT_MESSAGES per RATE_LIMIT_WINDOW (counted in the database, so
    it holds across tabs and server processes).

    One transaction of four statements: a check without lock (refusals stop here), the session
    row lock that hands out the seq, the message insert, the log entry. `message_post_fast` is
    the same transaction on the event loop for the plain case.
    """
    post = _post_prepare(context, body, content_warning, client_id)
    sql = _post_sql()
    member_id, session_id = context.member_id, context.session_id
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql["check"], post.check)
            row = cursor.fetchone()
            if row is None:
                raise Forbidden(_("You are no longer in this session."))
            present, muted, status, user_id, display_name, role, recent, existing = row
            if not present or status != MembershipStatus.ACTIVE or user_id != context.user_id:
                raise Forbidden(_("You are no longer in this session."))
            if existing is not None:
                raise _PostRefused
            if muted:
                until = Participant.objects.get(
                    session_id=session_id, membership_id=member_id
                ).muted_until
                raise ApplicationError(
                    _("You are muted until %(time)s.") % {"time": until.strftime("%H:%M")},
                    code="muted",
                    extra={"until": events.stamp(until)},
                )
            if recent >= RATE_LIMIT_MESSAGES:
                raise rate_limited()
            cursor.execute(sql["lock"], [session_id])
            seq, session_status = cursor.fetchone()
            if session_status != SessionStatus.LIVE:
                _post_refusal(actor, context, session_status)
            cursor.execute(sql["insert"], post.insert)
            inserted = cursor.fetchone()
            if inserted is None:
                raise _PostRefused
            cursor.execute(sql["event"], post.event_params(seq, inserted[0]))
            sent = post.posted(seq, inserted[0], display_name, role)
            realtime.broadcast_on_commit(post.room_group, sent)
    except _PostRefused:
        # Already stored (a resend), or a concurrent tab took the last message of the window.
        return _post_existing(context, post.client_uuid)
    return sent, True


async def message_post_fast(
    *, context: RoomContext, body: Any, content_warning: Any, client_id: Any
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]] | None:
    """`message_post`'s transaction for the plain case, on the event loop (project/asyncdb.py).

    Returns the event and its broadcasts (to publish after the sender's ack), or None when
    the post is not plain (a resend, a refusal, a session that is not live, the limit reached
    by another tab): then the transaction was rolled back and the caller runs `message_post`,
    which explains why. The same statements under the same session row lock, so the seq has
    no gaps; they are sent in one pipeline and answered in one round trip, then committed or
    rolled back in a second (on a busy 2-core machine every round trip waits for PostgreSQL
    to be scheduled). Raises ValidationFailed for a bad frame and `psycopg.Error` when
    PostgreSQL cannot be reached.
    """
    import psycopg

    from project import asyncdb

    post = _post_prepare(context, body, content_warning, client_id)
    sql = _post_sql()
    async with asyncdb.connection() as conn, conn.pipeline(), conn.transaction():
        check, lock, insert, log = (conn.cursor() for _ in range(4))
        await check.execute(sql["check"], post.check)
        await lock.execute(sql["lock"], [context.session_id])
        await insert.execute(sql["insert"], post.insert)
        await log.execute(sql["event_pipelined"], post.event_pipelined_params())
        row = await check.fetchone()
        _seq, status = await lock.fetchone()
        inserted = await insert.fetchone()
        logged = await log.fetchone()
        if not post.plain(row) or status != SessionStatus.LIVE or inserted is None or not logged:
            raise psycopg.Rollback
        _present, _muted, _status, _user, display_name, role, _recent, _existing = row
        seq, message_id = logged
        sent = post.posted(seq, message_id, display_name, role)
        return sent, [(post.room_group, realtime.forward_message(sent))]
    return None


def _audit_room(actor: User, action: str, target: Any, session: Session, **extra: Any) -> None:
    """Audit a moderation action in a session's room (never its text)."""
    audit_record(
        actor=actor,
        action=action,
        target=target,
        group_id=session.group_id,
        extra={"session_id": session.pk, **extra},
    )


def _host_session(
    actor: User, context: RoomContext, action: Action = Action.SESSION_HOST
) -> Session:
    session = (
        Session.objects.select_for_update().prefetch_related("co_hosts").get(pk=context.session_id)
    )
    require(actor, action, session=session, visible=Action.SESSION_VIEW)
    if session.status == SessionStatus.ENDED:
        raise ApplicationError(_("The session has ended."), code="not_live")
    return session


def _session_message(session: Session, message_id: Any) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("author")
        .filter(session=session, pk=parse_id(message_id))
        .first()
    )
    if message is None:
        raise NotFound()
    return message


def _reason(value: Any, *, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise ValidationFailed({"reason": [_("Give a short reason. Only she will see it.")]})
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            {"reason": [_("Use at most %(max)d characters.") % {"max": REASON_MAX}]}
        )
    return text


@transaction.atomic
def message_hide(*, actor: User, context: RoomContext, message_id: Any, reason: Any) -> None:
    """Hide a message for everyone; its author is told why, privately."""
    text = _reason(reason)
    session = _host_session(actor, context)
    message = _session_message(session, message_id)
    if message.hidden_at is not None:
        return
    message.hidden_at = timezone.now()
    message.hide_reason = text
    message.save(update_fields=["hidden_at", "hide_reason"])
    event_append(session=session, event=events.message_hidden(message_id=message.pk))
    if message.author_id is not None:
        realtime.broadcast_on_commit(
            events.participant_group(session.pk, message.author_id),
            events.notice(code="message_hidden", message=text),
        )
    _audit_room(actor, "message.hidden", message, session)


@transaction.atomic
def message_set_warning(
    *, actor: User, context: RoomContext, message_id: Any, content_warning: Any
) -> None:
    """A host adds (or changes, or clears with null) the content warning of a message."""
    category, note = _clean_content_warning(content_warning)
    session = _host_session(actor, context)
    message = _session_message(session, message_id)
    message.cw_category, message.cw_note = category, note
    message.save(update_fields=["cw_category", "cw_note"])
    # The note is text: like a message body it stays in the (encrypted) message row, and
    # replay rebuilds the event from there (so retention removes it too).
    event_append(
        session=session,
        event=events.message_warning_set(
            message_id=message.pk, content_warning=message.content_warning
        ),
        message=message,
    )
    _audit_room(actor, "message.warning_set", message, session, category=category or None)


def _target_participant(session: Session, member_id: Any) -> Participant:
    membership = Membership.objects.filter(
        group_id=session.group_id, pk=parse_id(member_id), status=MembershipStatus.ACTIVE
    ).first()
    if membership is None:
        raise NotFound()
    participant, _created = Participant.objects.select_for_update().get_or_create(
        session=session, membership=membership
    )
    participant.membership = membership
    return participant


def _refuse_host_target(session: Session, membership: Membership) -> None:
    if membership.role == GroupRole.FACILITATOR or (
        membership.role == GroupRole.PEER_MENTOR and session.is_co_host(membership)
    ):
        raise Forbidden(_("Hosts cannot be muted or removed here."))


@transaction.atomic
def member_mute(
    *, actor: User, context: RoomContext, member_id: Any, minutes: Any, reason: Any
) -> None:
    """Mute a member for 1 to 120 minutes; the reason goes to her alone."""
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not (MUTE_MINUTES_MIN <= minutes <= MUTE_MINUTES_MAX)
    ):
        raise ValidationFailed({"minutes": [_("Between 1 and 120 minutes.")]})
    text = _reason(reason)
    session = _host_session(actor, context)
    participant = _target_participant(session, member_id)
    _refuse_host_target(session, participant.membership)
    participant.muted_until = timezone.now() + timedelta(minutes=minutes)
    participant.mute_reason = text
    participant.save(update_fields=["muted_until", "mute_reason"])
    member = participant.membership
    event_append(
        session=session,
        event=events.member_muted(member_id=member.pk, until=participant.muted_until),
    )
    realtime.broadcast_on_commit(
        events.participant_group(session.pk, member.pk), events.notice(code="muted", message=text)
    )
    _audit_room(actor, "member.muted", member, session, minutes=minutes)


@transaction.atomic
def member_unmute(*, actor: User, context: RoomContext, member_id: Any) -> None:
    session = _host_session(actor, context)
    participant = _target_participant(session, member_id)
    participant.muted_until = None
    participant.mute_reason = ""
    participant.save(update_fields=["muted_until", "mute_reason"])
    member = participant.membership
    event_append(session=session, event=events.member_unmuted(member_id=member.pk))
    realtime.broadcast_on_commit(
        events.participant_group(session.pk, member.pk),
        events.notice(code="unmuted", message=_("You can post again.")),
    )
    _audit_room(actor, "member.unmuted", member, session)


@transaction.atomic
def member_remove_from_session(
    *, actor: User, context: RoomContext, member_id: Any, reason: Any
) -> None:
    """Remove a member from this session: her connections close with 4403, for good."""
    text = _reason(reason)
    session = _host_session(actor, context, Action.SESSION_END)
    participant = _target_participant(session, member_id)
    _refuse_host_target(session, participant.membership)
    if participant.removed_at is not None:
        return
    participant.removed_at = timezone.now()
    participant.remove_reason = text
    participant.save(update_fields=["removed_at", "remove_reason"])
    member = participant.membership
    event_append(session=session, event=events.member_removed(member_id=member.pk))
    private = events.participant_group(session.pk, member.pk)
    realtime.broadcast_on_commit(private, events.notice(code="removed", message=text))
    realtime.close_on_commit(private, CLOSE_FORBIDDEN)
    active = _active_round(session.pk, lock=True)
    if active is not None and active.current == member.pk:
        _round_advance(session=session, active=active, passed=True)
    _audit_room(actor, "member.removed_from_session", member, session)


@transaction.atomic
def room_set_status(*, actor: User, context: RoomContext, status: Any, note: Any = None) -> None:
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    session_set_status(actor=actor, session=session, status=status, note=note)


def _round_advance(*, session: Session, active: Round, passed: bool) -> None:
    previous = active.current
    if passed and previous is not None:
        active.passed = [*active.passed, previous]
    active.position += 1
    current = active.current
    if current is None:
        active.ended_at = timezone.now()
    active.save(update_fields=["position", "passed", "ended_at"])
    event_append(
        session=session,
        event=events.round_turn(current=current, previous=previous, passed=passed),
    )
    if current is None:
        event_append(session=session, event=events.round_ended())


@transaction.atomic
def round_start(*, actor: User, context: RoomContext, prompt: Any) -> None:
    """Start a round with everyone present (not the facilitators), in the order they came."""
    text = prompt.strip() if isinstance(prompt, str) else ""
    if not text or len(text) > ROUND_PROMPT_MAX:
        raise ValidationFailed({"prompt": [_("Give a prompt of up to 500 characters.")]})
    session = _host_session(actor, context)
    if session.status != SessionStatus.LIVE:
        raise ApplicationError(_("Start the session before a round."), code="not_live")
    if _active_round(session.pk, lock=True) is not None:
        raise Conflict(_("A round is already going."), code="round_active")
    order = [
        entry["member_id"]
        for entry in _present(session.pk)
        if entry["role"] != GroupRole.FACILITATOR
    ]
    if not order:
        raise Conflict(_("Nobody is here to take part yet."), code="nobody_present")
    active = Round.objects.create(session=session, prompt=text, order=order)
    event_append(
        session=session,
        event=events.round_started(prompt=text, order=order, current=active.current),
    )
    audit_record(
        actor=actor,
        action="round.started",
        target=session,
        group_id=session.group_id,
        extra={"members": len(order)},
    )


@transaction.atomic
def round_take_turn(*, actor: User, context: RoomContext, passed: bool) -> None:
    """The member whose turn it is finishes it, or passes: no reason is asked."""
    _participant(context)
    session = Session.objects.select_for_update().get(pk=context.session_id)
    active = _active_round(session.pk, lock=True)
    if active is None or active.current != context.member_id:
        raise ApplicationError(_("It is not your turn."), code="not_your_turn")
    _round_advance(session=session, active=active, passed=passed)


@transaction.atomic
def round_end(*, actor: User, context: RoomContext) -> None:
    session = _host_session(actor, context)
    active = _active_round(session.pk, lock=True)
    if active is None:
        raise Conflict(_("There is no round going."), code="no_round")
    active.ended_at = timezone.now()
    active.save(update_fields=["ended_at"])
    event_append(session=session, event=events.round_ended())


@transaction.atomic
def presence_set(*, actor: User, context: RoomContext, status: Any) -> None:
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
    if note is not None and not isinstance(note, str):
        raise ValidationFailed({"note": [_("Write the note in words.")]})
    text = (note or "").strip()
    if len(text) > SUPPORT_NOTE_MAX:
        raise ValidationFailed(
            {"note": [_("Use at most %(max)d characters.") % {"max": SUPPORT_NOTE_MAX}]}
        )
    _participant(context)
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


def _replayed_from_message(row: SessionEvent) -> dict[str, Any]:
    message = row.message
    if row.type == "message.warning_set":
        warning = None if message.purged_at else message.content_warning
        event = events.message_warning_set(message_id=message.pk, content_warning=warning)
        return {"type": event.pop("type"), "seq": row.seq, **event}
    return _message_event(message, row.seq)


def events_replay(*, session_id: int, after_seq: int, limit: int = 500) -> list[dict[str, Any]]:
    """Durable events after `after_seq`, in order, as the room sends them.

    Message events are rebuilt from their rows, so hidden and purged bodies stay hidden.
    """
    rows = (
        SessionEvent.objects.filter(session_id=session_id, seq__gt=after_seq)
        .select_related("message__author")
        .order_by("seq")[:limit]
    )
    replay: list[dict[str, Any]] = []
    for row in rows:
        if row.message_id is not None and row.message is not None:
            replay.append(_replayed_from_message(row))
        else:
            replay.append(row.as_event())
    return replay
