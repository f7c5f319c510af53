"""What every live-room service shares: a connection's context and the room's lookups.

`room`, `messages`, `moderation` and `rounds` find the participant, the host's session, the
open round and who is present here, so none of them imports another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import Participant, Round, Session, SessionStatus
from facilitation.selectors import PRESENCE_WINDOW
from groups.models import MembershipStatus, User
from groups.policies import Action, require
from project.audit import audit_record
from project.exceptions import ApplicationError, Forbidden

__all__ = [
    "PRESENCE_WINDOW",
    "ROOM_OPEN",
    "Beat",
    "RoomContext",
    "RoomRefused",
    "active_round",
    "audit_room",
    "host_session",
    "participant_get",
]


# While a session is one of these its room is running: a support request reaches its hosts,
# she may check in, a private message reaches the hosts in it.
ROOM_OPEN = (SessionStatus.OPEN, SessionStatus.LIVE, SessionStatus.PAUSED)


class RoomRefused(Exception):
    """Entering the room is refused; `code` is the WebSocket close code (project.closecodes)."""

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
    attendance_id: int
    # She reads the log only after this seq (0: all of it, as hosts do); see `history_after`.
    history_after: int = 0
    # She reads the check-in notes a member did not share with peer mentors (facilitators).
    reads_notes: bool = False

    @property
    def reader(self) -> events.Reader:
        """Who reads the room's events on this connection (`events.as_read_by`)."""
        return events.Reader(member_id=self.member_id, is_host=self.is_host)


@dataclass(frozen=True)
class Beat:
    """One live connection, as the heartbeat sees it: what it was opened with (a token, or a
    browser session's key) and whether it hears the hosts' events."""

    attendance_id: int
    session_id: int
    member_id: int
    user_id: int
    token_id: int | None
    session_key: str | None = None
    is_host: bool = False


def participant_get(context: RoomContext, *, lock: bool = False) -> Participant:
    """Her participant row, while she may still act in this session (403 otherwise)."""
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


def host_session(
    actor: User, context: RoomContext, action: Action = Action.SESSION_HOST
) -> Session:
    """The session, locked, for a host's action in its room (refused once it has ended)."""
    session = (
        Session.objects.select_for_update().prefetch_related("co_hosts").get(pk=context.session_id)
    )
    require(actor, action, session=session, visible=Action.SESSION_VIEW)
    if session.status == SessionStatus.ENDED:
        raise ApplicationError(_("The session has ended."), code="not_live")
    return session


def active_round(session_id: int, *, lock: bool = False) -> Round | None:
    """The session's open round, if one is going."""
    rows = Round.objects.filter(session_id=session_id, ended_at__isnull=True)
    if lock:
        rows = rows.select_for_update()
    return rows.order_by("-started_at").first()


def audit_room(actor: User, action: str, target: Any, session: Session, **extra: Any) -> None:
    """Audit an action in a session's room (never its text)."""
    audit_record(
        actor=actor,
        action=action,
        target=target,
        group_id=session.group_id,
        extra={"session_id": session.pk, **extra},
    )
