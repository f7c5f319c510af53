"""Reads for sessions, plans, attendance, the taxonomy and the durable log; given the viewer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from facilitation.models import (
    Attendance,
    ContentWarning,
    Participant,
    PlanItem,
    Session,
    SessionEvent,
)
from facilitation.services import events_replay
from groups.models import Group, User
from groups.policies import Action, require
from project.exceptions import Forbidden, NotFound, parse_id


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


def attendance_list(*, viewer: User, session: Session) -> QuerySet[Attendance]:
    require(viewer, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    return Attendance.objects.filter(session=session).select_related("membership")


def content_warning_list() -> QuerySet[ContentWarning]:
    return ContentWarning.objects.all()


def events_after(
    *, session: Session, after_seq: int, limit: int | None = None
) -> QuerySet[SessionEvent]:
    rows = SessionEvent.objects.filter(session=session, seq__gt=after_seq).order_by("seq")
    return rows[:limit] if limit else rows


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
    return events_replay(session_id=session.pk, after_seq=after_seq, limit=limit)
