"""Sessions: booking, changing, and the one way a session's status moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.log import event_append
from facilitation.models import Session, SessionKind, SessionStatus
from facilitation.selectors import facilitator_present, next_session, room_present
from facilitation.services.context import RoomContext
from facilitation.taxonomy import clean_warning_list
from groups.models import Group, GroupRole, Membership, MembershipStatus, User
from groups.policies import Action, require
from groups.selectors import agreement_current
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import MAX_ID, Conflict, ValidationFailed
from project.text import clean_text

SESSION_TITLE_MAX = 120
SESSION_MAX_LENGTH = timedelta(hours=12)
STATUS_NOTE_MAX = 500

# The only moves a session's status may make (PROTOCOL.md "Session status").
TRANSITIONS: dict[str, frozenset[str]] = {
    SessionStatus.SCHEDULED: frozenset({SessionStatus.OPEN}),
    SessionStatus.OPEN: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.LIVE: frozenset({SessionStatus.PAUSED, SessionStatus.ENDED}),
    SessionStatus.PAUSED: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.ENDED: frozenset(),
}


def title_clean(title: Any, field: str = "title") -> str:
    """A session's or an agenda item's title: one line of up to SESSION_TITLE_MAX characters."""
    return clean_text(
        title,
        field=field,
        max_length=SESSION_TITLE_MAX,
        one_line=True,
        missing=_("Give the session a title."),
    )


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
    clean_title = title_clean(title)
    _clean_times(starts_at, ends_at)
    if kind not in SessionKind.values:
        raise ValidationFailed({"kind": [_("Choose booked or drop_in.")]})
    warnings = clean_warning_list(content_warnings, "content_warnings")
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
        session.title = title_clean(changes["title"])
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
        session.content_warnings = clean_warning_list(
            changes["content_warnings"], "content_warnings", kept=session.content_warnings
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
        before = set(session.co_hosts.values_list("pk", flat=True))
        session.co_hosts.set(hosts)
        changed.append("co_hosts")
        # Added or dropped co-hosts hear (or stop hearing) the hosts' events at once.
        for member_id in sorted(before ^ {m.pk for m in hosts}):
            realtime.rights_changed_on_commit(realtime.member_group(member_id))
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


@transaction.atomic
def session_set_status(*, actor: User, session: Session, status: Any, note: Any = None) -> Session:
    """Move a session along scheduled → open → live ⇄ paused → ended; nothing else.

    Hosts open, start, pause and resume; facilitators end, and so may a co-host while no
    facilitator is in the room (`groups.policies`). A session cannot leave `scheduled` while
    its group has no published agreement. The `ended` event names the group's next session.
    """
    if status not in SessionStatus.values:
        raise ValidationFailed({"status": [_("Unknown status.")]})
    if status == SessionStatus.ENDED:
        require(
            actor,
            Action.SESSION_END,
            session=session,
            visible=Action.SESSION_VIEW,
            facilitator_present=facilitator_present(room_present(session_id=session.pk)),
        )
    else:
        require(actor, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    clean_note = clean_text(note, field="note", max_length=STATUS_NOTE_MAX, required=False) or None
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
    fields = ["status"]
    if status == SessionStatus.ENDED:
        session.ended_at = timezone.now()
        fields.append("ended_at")
    session.save(update_fields=fields)
    following = next_session(session) if status == SessionStatus.ENDED else None
    event_append(
        session=session,
        event=events.session_status(status=status, note=clean_note, next_session=following),
    )
    if status == SessionStatus.ENDED:
        # The room closes for everyone once the ended event has gone out.
        realtime.close_on_commit(events.session_group(session.pk), closecodes.NOT_OPEN)
    audit_record(
        actor=actor,
        action="session.status_changed",
        target=session,
        group_id=session.group_id,
        extra={"from": previous, "to": status},
    )
    return session


@transaction.atomic
def room_set_status(*, actor: User, context: RoomContext, status: Any, note: Any = None) -> None:
    """A host moves the session's status from its room (`session.set_status`)."""
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    session_set_status(actor=actor, session=session, status=status, note=note)
