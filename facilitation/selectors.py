"""Reads for sessions, plans, attendance, the taxonomy, preferences, who is in a room and the
durable log; given the viewer, or (room reads) called once the room has let her in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events, sql
from facilitation.agreements import agreement_admits_to
from facilitation.log import events_replay
from facilitation.models import (
    Attendance,
    CheckIn,
    CheckInSkip,
    HandoverNote,
    NoticeCode,
    Participant,
    PlanItem,
    PresenceStatus,
    PrivateMessage,
    PrivateNotice,
    PrivateThread,
    Session,
    SessionEvent,
    SessionStatus,
    SupportKind,
    SupportRequest,
    TalkRequest,
)
from facilitation.taxonomy import CW_COLLAPSE, Category, categories, warning_keys
from groups.models import Group, GroupRole, Membership, MembershipStatus, OrgRole, User
from groups.policies import Action, active_membership, can, is_signed_in, require
from project.exceptions import Forbidden, NotFound, parse_id
from project.organisation import urgent_help
from project.sql import prepared_cursor

# A connection counts as present while its heartbeat is newer than this (the heartbeat
# touches each connection every HAVEN_HEARTBEAT_SECONDS, 20 s by default).
PRESENCE_WINDOW = timedelta(seconds=90)


# Her choice that the hosts hear "Lily left quickly" when she uses the quick exit in a room.
LEAVE_QUICKLY_PREFERENCE = "tell_hosts_if_i_leave_quickly"


def preferences_effective(user: User) -> dict[str, Any]:
    """A member's preferences with every taxonomy category filled in (default: collapse; retired
    ones too, for what they still mark) and
    whether the hosts hear when she leaves quickly (default: yes)."""
    stored = (user.preferences or {}).get("content_warnings", {})
    choices = {key: stored.get(key, CW_COLLAPSE) for key in sorted(warning_keys())}
    tell = (user.preferences or {}).get(LEAVE_QUICKLY_PREFERENCE, True) is not False
    return {
        **(user.preferences or {}),
        "content_warnings": choices,
        LEAVE_QUICKLY_PREFERENCE: tell,
    }


def room_present(
    *, session_id: int, mutes: dict[int, datetime] | None = None
) -> list[dict[str, Any]]:
    """Members with a live connection to the room, `here` winning over `stepped_out`; given
    `mutes` (hosts), each with `muted_until` too (what only hosts may know).

    For a caller the room has let in (room entry, a host starting a round).
    """
    with prepared_cursor() as cursor:
        cursor.execute(sql.room()["present"], present_params(session_id))
        return present_list(cursor.fetchall(), mutes=mutes)


def present_params(session_id: int) -> list[Any]:
    """The parameters of `sql.room()["present"]`, read now."""
    horizon = sql.db_time(timezone.now() - PRESENCE_WINDOW)
    return [session_id, horizon, MembershipStatus.ACTIVE]


def present_list(
    found: list[Any], *, mutes: dict[int, datetime] | None = None
) -> list[dict[str, Any]]:
    """`room_present`'s answer from the rows of `sql.room()["present"]` (wherever they were
    read: room entry reads them with her arrival, `sql.room()["arrive"]`)."""
    rows = [sql.PresentRow(*item) for item in found]
    present: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = present.setdefault(row.member_id, events.present_entry(**row._asdict()))
        if row.status == PresenceStatus.HERE:
            entry["status"] = PresenceStatus.HERE
    if mutes is not None:
        for member_id, entry in present.items():
            entry["muted_until"] = events.stamp(mutes.get(member_id))
    return list(present.values())


def facilitator_present(present: list[dict[str, Any]]) -> bool:
    """Is a facilitator in the room (any entry of `room_present` with that role)? While none
    is, a co-host may end the session (`groups.policies`, `facilitator_present`); clients
    recompute `me.may_end` from the present list by the same rule."""
    return any(entry["role"] == GroupRole.FACILITATOR for entry in present)


def notices_active(*, session_id: int, member_id: int) -> list[dict[str, Any]]:
    """Her private notices in this session that still stand, oldest first, as `notice`
    events: not dismissed, and a mute's only while it lasts. For her own connection (replayed
    on `resume`) and her room page."""
    rows = (
        PrivateNotice.objects.filter(
            session_id=session_id, recipient_id=member_id, dismissed_at__isnull=True
        )
        .exclude(code=NoticeCode.MUTED, until__lte=timezone.now())
        .select_related("by")
        .order_by("created_at", "pk")
    )
    return [events.notice_from_row(row) for row in rows]


def next_session(session: Session) -> dict[str, Any] | None:
    """The group's next session after `session`: not ended, starting after now; or None."""
    following = (
        Session.objects.filter(group_id=session.group_id, starts_at__gt=timezone.now())
        .exclude(status=SessionStatus.ENDED)
        .exclude(pk=session.pk)
        .order_by("starts_at", "pk")
        .only("pk", "title", "starts_at")
        .first()
    )
    if following is None:
        return None
    return events.session_brief(
        session_id=following.pk, title=following.title, starts_at=following.starts_at
    )


def room_page(*, viewer: User, session: Session) -> dict[str, Any]:
    """What the room page knows before its socket opens (its `data-config`): her standing
    notices (so a member who was removed still reads why after a reload), whether the
    session has ended and which comes next, her own pseudonym in the group, and the
    organisation's urgent help (`HAVEN_URGENT_HELP`: "I'm not safe right now" shows it at
    once, even offline), and whether an end screen may still ask how she is leaving. The caller
    has fetched `session` for her (`session_get_for`)."""
    membership = active_membership(viewer, session.group_id)
    notices = []
    if membership is not None:
        notices = [
            {k: v for k, v in notice.items() if k != "type"}
            for notice in notices_active(session_id=session.pk, member_id=membership.pk)
        ]
    ended = session.status == SessionStatus.ENDED
    # For the end screen after a reload: whether she was in the room, and the moments she
    # already answered or skipped (she is never asked twice).
    attended = membership is not None and (
        Attendance.objects.filter(session=session, membership=membership).exists()
    )
    done: list[str] = []
    if membership is not None:
        mine = {"session_id": session.pk, "member_id": membership.pk}
        done = sorted(set(checkin_moments(**mine)) | set(checkin_skipped_moments(**mine)))
    return {
        "notices": notices,
        "ended": ended,
        "attended": attended,
        "checkins_done": done,
        "next_session": next_session(session) if ended else None,
        "display_name": membership.display_name if membership is not None else None,
        "urgent_help": urgent_help(),
    }


def session_get_for(
    *, viewer: User, session_id: Any, action: Action = Action.SESSION_VIEW
) -> Session:
    """Fetch a session and authorise `action` on it in one step.

    A session that does not exist and one in a group the viewer may not see both answer
    `NotFound`; one she can see but may not act on answers `Forbidden`.
    """
    session = (
        Session.objects.select_related("group")
        .prefetch_related("co_hosts")
        .filter(pk=parse_id(session_id))
        .first()
    )
    if session is None:
        raise NotFound()
    require(viewer, action, session=session, visible=Action.SESSION_VIEW)
    return session


def session_list(*, viewer: User, group: Group) -> QuerySet[Session]:
    require(viewer, Action.SESSION_VIEW, group=group)
    return Session.objects.filter(group=group).prefetch_related("co_hosts")


def plan_items(*, viewer: User, session: Session) -> QuerySet[PlanItem]:
    require(viewer, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    return PlanItem.objects.filter(session=session)


def room_plan(*, viewer: User, session: Session) -> list[dict[str, Any]] | None:
    """The plan as its hosts step through it in the room (issue 16), each item with when it is
    planned to start (item after item from the session's start); None for anyone who does not
    host the session, so members never receive the notes for hosts."""
    if not can(viewer, Action.SESSION_HOST, session=session):
        return None
    at, items = session.starts_at, []
    for item in PlanItem.objects.filter(session=session):
        items.append(
            {
                "title": item.title,
                "kind": item.kind,
                "minutes": item.minutes,
                "notes": item.notes,
                "content_warnings": item.content_warnings,
                "starts_at": events.stamp(at),
            }
        )
        at += timedelta(minutes=item.minutes)
    return items


def attendance_list(*, viewer: User, session: Session) -> QuerySet[Attendance]:
    require(viewer, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    return Attendance.objects.filter(session=session).select_related("membership")


def content_warning_list() -> list[Category]:
    """Every category in order, retired ones too (they label old messages), as shown."""
    return categories()


def session_log(
    *, viewer: User, session: Session, after_seq: int, limit: int
) -> list[dict[str, Any]]:
    """The durable log after `after_seq`, as the room sends it; hidden bodies stay hidden.

    A member removed from this session reads nothing more of it (403).
    """
    require(viewer, Action.SESSION_VIEW, session=session, visible=Action.SESSION_VIEW)
    removed = Participant.objects.filter(
        session=session, membership__user=viewer, removed_at__isnull=False
    ).exists()
    if removed:
        raise Forbidden(_("You were removed from this session."))
    membership = active_membership(viewer, session.group_id)
    if membership is not None and not agreement_admits_to(membership, [session])[session.pk]:
        # The same rule as entering the room (close code 4409): `groups.selectors`.
        raise Forbidden(
            _("Please accept the group's current agreement first."), code="agreement_required"
        )
    is_host = can(viewer, Action.SESSION_HOST, session=session, membership=membership)
    return events_replay(
        session_id=session.pk,
        after_seq=after_seq,
        limit=limit,
        history_after=history_after_for(viewer=viewer, session=session, membership=membership),
        reader=events.Reader(member_id=membership.pk if membership else None, is_host=is_host),
    )


def history_after(*, is_host: bool, first_seq: int) -> int:
    """The seq after which a reader may read a session's log (0: all of it).

    Hosts (facilitators, the session's co-hosts) read all of it. A member reads from her first
    entry into the room on (she joined the group before that), so nobody with an invite code
    reads what a group said before she came; what she may not read comes back as one
    `history.hidden` marker (`facilitation.log.events_replay`), never its text.
    """
    return 0 if is_host else first_seq


def history_after_for(*, viewer: User, session: Session, membership: Membership | None) -> int:
    """`history_after` for a reader of the REST log: a member who never entered the room reads
    what was said after she joined the group; staff who may see the session without being a
    member (org roles) keep what the policy gives them."""
    if membership is None or can(
        viewer, Action.SESSION_HOST, session=session, membership=membership
    ):
        return 0
    first_seq = (
        Participant.objects.filter(session=session, membership=membership)
        .values_list("first_seq", flat=True)
        .first()
    )
    if first_seq is None:
        first_seq = (
            SessionEvent.objects.filter(
                session=session, created_at__lt=membership.joined_at
            ).aggregate(last=Max("seq"))["last"]
            or 0
        )
    return history_after(is_host=False, first_seq=first_seq)


# --- support requests ------------------------------------------------------------------------

# Who made a request what it is: read with every request shown.
SUPPORT_RELATED = ("membership", "seen_by", "taken_by", "closed_by")


def hosts_present(*, session: Session) -> bool:
    """Has a host of `session` (a facilitator, or a co-host it names) a live connection to
    its room now? Decides whether a support request may say a host was told."""
    present = room_present(session_id=session.pk)
    co_hosts = set(session.co_hosts.values_list("pk", flat=True))
    return any(
        entry["role"] == GroupRole.FACILITATOR or entry["member_id"] in co_hosts
        for entry in present
    )


def was_in_room(*, session_id: int, member_id: int, since: datetime) -> bool:
    """Had she a live connection to the room at `since` or later (open now, or closed since;
    its heartbeat recent)? The quick exit's beacon may come just after her socket closed."""
    return (
        Attendance.objects.filter(
            session_id=session_id,
            membership_id=member_id,
            last_seen_at__gte=timezone.now() - PRESENCE_WINDOW,
        )
        .filter(Q(left_at__isnull=True) | Q(left_at__gte=since))
        .exists()
    )


def support_for_hosts(*, session_id: int) -> list[dict[str, Any]]:
    """The session's requests not closed yet, oldest first, as the hosts' `session.state`
    lists them (each shaped like `support.requested`). For a host the room has let in."""
    rows = SupportRequest.objects.filter(
        session_id=session_id, closed_at__isnull=True
    ).select_related(*SUPPORT_RELATED)
    return [events.without_type(events.support_requested(row)) for row in rows]


def support_mine(*, session_id: int, member_id: int) -> dict[str, Any] | None:
    """Her latest request in this session, shaped like `support.sent`, or None (never a
    `left_quickly`: that one is for the hosts only)."""
    row = (
        SupportRequest.objects.filter(session_id=session_id, membership_id=member_id)
        .exclude(kind=SupportKind.LEFT_QUICKLY)
        .select_related(*SUPPORT_RELATED)
        .order_by("-created_at", "-pk")
        .first()
    )
    return events.without_type(events.support_sent(row)) if row is not None else None


def support_list(*, viewer: User, group: Group) -> QuerySet[SupportRequest]:
    """The requests `viewer` may read in `group`: for those who handle them (facilitators)
    every one not closed yet, oldest first; for anyone else her own, newest first."""
    rows = SupportRequest.objects.filter(group=group).select_related(*SUPPORT_RELATED)
    if can(viewer, Action.SUPPORT_MANAGE, group=group):
        return rows.filter(closed_at__isnull=True).order_by("created_at", "pk")
    require(viewer, Action.SUPPORT_REQUEST, group=group, visible=Action.GROUP_VIEW)
    membership = active_membership(viewer, group)
    # Her own quick exits are for the hosts only: nothing on her phone shows she used one.
    mine = rows.filter(membership=membership).exclude(kind=SupportKind.LEFT_QUICKLY)
    return mine.order_by("-created_at", "-pk")


def support_get_for(*, viewer: User, group: Group, request_id: Any) -> SupportRequest:
    """One request of `group` for someone who handles them; anything else is not found."""
    require(viewer, Action.SUPPORT_MANAGE, group=group, visible=Action.GROUP_VIEW)
    row = (
        SupportRequest.objects.filter(pk=parse_id(request_id), group=group)
        .select_related(*SUPPORT_RELATED)
        .first()
    )
    if row is None:
        raise NotFound()
    return row


# --- check-ins -------------------------------------------------------------------------------


def checkins_for_hosts(*, session_id: int, reads_notes: bool) -> list[dict[str, Any]]:
    """The session's check-ins, oldest first, as a host's `session.state` lists them; the
    notes she did not share only for those who read them (`Action.CHECKIN_READ`)."""
    rows = CheckIn.objects.filter(session_id=session_id).select_related("membership")
    return [events.without_type(events.checkin(row, with_note=reads_notes)) for row in rows]


def checkin_moments(*, session_id: int, member_id: int) -> list[str]:
    """The moments she already answered in this session (`["in"]`): never asked twice."""
    return sorted(
        CheckIn.objects.filter(session_id=session_id, membership_id=member_id).values_list(
            "moment", flat=True
        )
    )


def checkin_skipped_moments(*, session_id: int, member_id: int) -> list[str]:
    """The moments she chose Skip for in this session: not asked again either."""
    return sorted(
        CheckInSkip.objects.filter(session_id=session_id, membership_id=member_id).values_list(
            "moment", flat=True
        )
    )


def checkin_list(*, viewer: User, session: Session) -> QuerySet[CheckIn]:
    """Every check-in of a session, with its note, for those who read them (facilitators)."""
    require(viewer, Action.CHECKIN_READ, session=session, visible=Action.SESSION_VIEW)
    return CheckIn.objects.filter(session=session).select_related("membership")


def checkins_mine(*, viewer: User) -> QuerySet[CheckIn]:
    """Her own check-ins in every group, newest first."""
    return (
        CheckIn.objects.filter(membership__user=viewer)
        .select_related("session")
        .order_by("-created_at", "-pk")
    )


# --- private threads -------------------------------------------------------------------------

# How many private messages one `resume` sends: hers, and the hosts' (every thread of the
# session's members).
PRIVATE_REPLAY_MEMBER = 50
PRIVATE_REPLAY_HOSTS = 200


def session_started_at(session_id: int) -> datetime:
    """When a session began: its first logged event (opening it), or when it was planned to
    start, whichever came first. Private messages replay from here."""
    return (
        Session.objects.filter(pk=session_id)
        .annotate(began=began(session_id))
        .values_list("began", flat=True)
        .get()
    )


def began(session_id: int) -> Least:
    """`session_started_at` as an SQL expression, for a query that filters on it: every
    `resume` asks (`private_replay`), so it costs no statement of its own (issue 20)."""
    planned = Subquery(Session.objects.filter(pk=session_id).values("starts_at")[:1])
    first = SessionEvent.objects.filter(session_id=session_id).order_by("seq")
    return Least(planned, Coalesce(Subquery(first.values("created_at")[:1]), planned))


def private_replay(*, session_id: int, member_id: int, is_host: bool) -> list[dict[str, Any]]:
    """The private messages one connection gets again after `resume`, oldest first: hers
    since the session began (the last PRIVATE_REPLAY_MEMBER); for a host, every thread of the
    session's members since then (the last PRIVATE_REPLAY_HOSTS)."""
    rows = PrivateMessage.objects.filter(created_at__gte=began(session_id))
    if is_host:
        members = Participant.objects.filter(session_id=session_id).values("membership_id")
        rows, limit = rows.filter(thread__membership_id__in=members), PRIVATE_REPLAY_HOSTS
    else:
        rows, limit = rows.filter(thread__membership_id=member_id), PRIVATE_REPLAY_MEMBER
    newest = list(rows.select_related("author", "thread").order_by("-created_at", "-pk")[:limit])
    return [
        events.private_message(row, thread_member_id=row.thread.membership_id)
        for row in reversed(newest)
    ]


def private_target(*, viewer: User, group: Group, member_id: Any) -> Membership:
    """Whose thread `viewer` opens over REST: her own, or (facilitators) any member's of the
    group. Anyone else's, or no such member, is not found."""
    may_host = can(viewer, Action.PRIVATE_HOST, group=group)
    if not may_host:
        require(viewer, Action.PRIVATE_OWN, group=group, visible=Action.GROUP_VIEW)
    own = active_membership(viewer, group)
    pk = parse_id(member_id)
    if own is not None and own.pk == pk:
        return own
    if not may_host:
        raise NotFound()
    target = Membership.objects.filter(pk=pk, group=group, status=MembershipStatus.ACTIVE).first()
    if target is None:
        raise NotFound()
    return target


def private_threads(*, viewer: User, group: Group) -> QuerySet[PrivateThread]:
    """The threads `viewer` reads: every one of the group for facilitators, newest activity
    first; for anyone else her own."""
    rows = PrivateThread.objects.filter(group=group).select_related("membership")
    if can(viewer, Action.PRIVATE_HOST, group=group):
        return rows.order_by(F("last_message_at").desc(nulls_last=True), "-pk")
    require(viewer, Action.PRIVATE_OWN, group=group, visible=Action.GROUP_VIEW)
    return rows.filter(membership=active_membership(viewer, group))


def private_messages(*, thread_member: Membership) -> QuerySet[PrivateMessage]:
    """One thread's messages, oldest first (the caller chose the thread: `private_target`)."""
    return (
        PrivateMessage.objects.filter(thread__membership=thread_member)
        .select_related("author", "thread")
        .order_by("created_at", "pk")
    )


# --- afterwards (issue 16) -------------------------------------------------------------------

# How long a "this was a hard session" request stays on its lead's list.
TALK_REQUESTS_SHOWN = timedelta(days=30)


def session_ended_at(session: Session) -> datetime:
    """When a session ended: its `ended_at`, or (ended before issue 16 kept it) its last
    logged event, or its planned end."""
    if session.ended_at is not None:
        return session.ended_at
    last = (
        SessionEvent.objects.filter(session=session)
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )
    return last or session.ends_at


def handover_for(*, session: Session) -> HandoverNote | None:
    """The session's handover note, for someone `summary_rights` let write or read debriefs."""
    return HandoverNote.objects.filter(session=session).select_related("author").last()


def handover_latest(*, viewer: User, group: Group) -> HandoverNote | None:
    """The newest handover note of `group`'s sessions, for those who read debriefs (the
    group's facilitators, the leads); None for anyone else, or when there is none."""
    if not can(viewer, Action.DEBRIEF_READ, group=group):
        return None
    return (
        HandoverNote.objects.filter(session__group=group)
        .exclude(body="")
        .select_related("author", "session")
        .order_by("-created_at", "-pk")
        .first()
    )


def past_sessions(*, viewer: User, group: Group) -> QuerySet[Session]:
    """The group's ended sessions, the latest first, each to open its summary."""
    require(viewer, Action.PAST_SESSIONS_VIEW, group=group)
    return (
        Session.objects.filter(group=group, status=SessionStatus.ENDED)
        .annotate(came=Count("attendance__membership", distinct=True))
        .order_by(F("ended_at").desc(nulls_last=True), "-starts_at", "-pk")
    )


def safeguarding_leads() -> QuerySet[User]:
    """Whom a host may ask to talk to after a hard session: the active safeguarding leads."""
    return User.objects.filter(org_role=OrgRole.SAFEGUARDING_LEAD, is_active=True).order_by(
        "username", "pk"
    )


def talk_requests_for(viewer: User) -> QuerySet[TalkRequest]:
    """The "I would like to talk to someone" requests made to `viewer`, newest first, from the
    last TALK_REQUESTS_SHOWN; empty for anyone who is not the lead they were made to."""
    if not is_signed_in(viewer):
        return TalkRequest.objects.none()
    return (
        TalkRequest.objects.filter(
            lead=viewer, created_at__gte=timezone.now() - TALK_REQUESTS_SHOWN
        )
        .select_related("session", "session__group", "by")
        .order_by("-created_at", "-pk")
    )


def member_activity(*, viewer: User, group: Group, membership: Membership) -> dict[str, Any]:
    """One member's part in `group`'s sessions, for her record (issue 16; staff who may read a
    member's history): the sessions she came to, newest first, what hosts did about her
    (hidden messages, warnings, mutes, removals from a room; counts, never the reasons) and how
    many times she asked for support. No message, note or reason text."""
    require(viewer, Action.MEMBER_HISTORY, group=group)
    sessions = list(
        Session.objects.filter(group=group, attendance__membership=membership)
        .distinct()
        .order_by("-starts_at", "-pk")
    )
    codes = list(
        PrivateNotice.objects.filter(recipient=membership, session__group=group).values_list(
            "code", flat=True
        )
    )
    received = {
        code: codes.count(code)
        for code in (
            NoticeCode.MESSAGE_HIDDEN,
            NoticeCode.WARNING_ADDED,
            NoticeCode.MUTED,
            NoticeCode.REMOVED,
        )
    }
    support = SupportRequest.objects.filter(group=group, membership=membership).count()
    return {"sessions": sessions, "moderation": received, "support_requests": support}
