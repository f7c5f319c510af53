""" "I need support": a member's request, kept until a host closes it, and the hosts' answers.

A request is stored (its note encrypted) whether or not a host is in the room, and says
honestly whether one was (`hosts_told`); the group's facilitators read the ones not closed on
the group's support list, and the session's hosts in their `session.state`. She hears
`support.sent` on her participant group; the hosts hear `support.requested` on theirs; both
hear `support.updated` when a host sees, takes or closes it. Never the session group
(ARCHITECTURE.md rule 5). The same `client_id` again answers with the stored request.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import (
    Session,
    SupportKind,
    SupportRequest,
    SupportStatus,
)
from facilitation.selectors import (
    LEAVE_QUICKLY_PREFERENCE,
    SUPPORT_RELATED,
    hosts_present,
    preferences_effective,
    was_in_room,
)
from facilitation.services.context import ROOM_OPEN, RoomContext, participant_get
from facilitation.services.messages import clean_client_id
from facilitation.services.private import thread_open
from groups.models import Group, Membership, User
from groups.policies import Action, active_membership, require
from project import realtime
from project.audit import audit_record
from project.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

SUPPORT_NOTE_MAX = 500
# What she may choose; `left_quickly` is only ever sent by the quick exit (`support_left`).
ASKED_KINDS = (SupportKind.MINUTE, SupportKind.MESSAGE_ME, SupportKind.NOT_SAFE)
# Where a host's answer may take a request: seen, taken, closed (see `support_set_status`).
HOST_STATUSES = (SupportStatus.SEEN, SupportStatus.TAKEN, SupportStatus.CLOSED)
# The quick exit closes her socket as it sends the beacon; either may arrive first, so a
# connection that ended this recently still counts as her being in the room.
QUICK_EXIT_GRACE = timedelta(seconds=60)


def clean_support(*, kind: Any, note: Any, client_id: Any) -> tuple[str, str, uuid.UUID | None]:
    """Her choice (default `minute`), her note (0-SUPPORT_NOTE_MAX) and the client's id (a
    UUID, or None when the client sent none), all checked before anything is written."""
    fields: dict[str, list[str]] = {}
    if kind is None:
        kind = SupportKind.MINUTE
    elif kind not in ASKED_KINDS:
        fields["kind"] = [
            _(
                "Choose what you need: a minute, a private message, "
                "or help because you are not safe."
            )
        ]
    try:
        text = clean_text(note, field="note", max_length=SUPPORT_NOTE_MAX, required=False)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
        text = ""
    client_uuid = None
    if client_id is not None:
        try:
            client_uuid = clean_client_id(client_id)
        except ValidationFailed as exc:
            fields.update(exc.extra["fields"])
    if fields:
        raise ValidationFailed(fields)
    return kind, text, client_uuid


def _stored(member_id: int, client_uuid: uuid.UUID | None) -> SupportRequest | None:
    if client_uuid is None:
        return None
    return (
        SupportRequest.objects.filter(membership_id=member_id, client_id=client_uuid)
        .select_related(*SUPPORT_RELATED)
        .first()
    )


def _store(**fields: Any) -> tuple[SupportRequest, bool]:
    """Write the request, or find the one a concurrent retry with the same client id wrote."""
    try:
        with transaction.atomic():
            row = SupportRequest.objects.create(**fields)
    except IntegrityError:
        found = _stored(fields["membership"].pk, fields["client_id"])
        if found is None:
            raise
        return found, False
    return row, True


def _announce(row: SupportRequest, *, actor: User | None) -> None:
    """Tell her tabs and the session's hosts (after commit), and audit it without its note.
    Her tabs are not told she left quickly: they are closing, and nobody else may learn it.
    "Please message me privately" opens her private thread."""
    if row.kind == SupportKind.MESSAGE_ME:
        thread_open(group_id=row.group_id, membership_id=row.membership_id)
    if row.session_id is not None and row.kind != SupportKind.LEFT_QUICKLY:
        realtime.broadcast_on_commit(
            events.participant_group(row.session_id, row.membership_id), events.support_sent(row)
        )
    if row.session_id is not None:
        realtime.broadcast_on_commit(
            events.hosts_group(row.session_id), events.support_requested(row)
        )
    audit_record(
        actor=actor,
        action="support.requested",
        target=row,
        group_id=row.group_id,
        extra={
            "session_id": row.session_id,
            "member_id": row.membership_id,
            "kind": row.kind,
            "hosts_told": row.hosts_told,
        },
    )


@transaction.atomic
def support_request(
    *,
    actor: User,
    context: RoomContext,
    note: Any = None,
    kind: Any = None,
    client_id: Any = None,
) -> SupportRequest:
    """Her "I need support" from the room (`support.request`). Stored whether or not a host
    is present; `hosts_told` says which. The same `client_id` again only answers her with the
    stored request. Refused `not_live` unless the session is open, live or paused."""
    kind, text, client_uuid = clean_support(kind=kind, note=note, client_id=client_id)
    participant = participant_get(context)
    found = _stored(context.member_id, client_uuid)
    if found is not None:
        realtime.broadcast_on_commit(
            events.participant_group(context.session_id, context.member_id),
            events.support_sent(found),
        )
        return found
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    if session.status not in ROOM_OPEN:
        raise ApplicationError(_("The session is not running now."), code="not_live")
    row, new = _store(
        group_id=context.group_id,
        session=session,
        membership=participant.membership,
        kind=kind,
        note=text,
        client_id=client_uuid or uuid.uuid4(),
        hosts_told=hosts_present(session=session),
    )
    if new:
        _announce(row, actor=actor)
    else:
        realtime.broadcast_on_commit(
            events.participant_group(context.session_id, context.member_id),
            events.support_sent(row),
        )
    return row


@transaction.atomic
def support_ask(
    *, actor: User, group: Group, kind: Any, note: Any = None, client_id: Any
) -> SupportRequest:
    """ "Ask for support" from the group's page: the same request, to the group's
    facilitators, outside any session (so no host was told). The same `client_id` again
    answers with the stored request."""
    require(actor, Action.SUPPORT_REQUEST, group=group)
    kind, text, client_uuid = clean_support(kind=kind, note=note, client_id=client_id)
    if client_uuid is None:
        raise ValidationFailed({"client_id": [_("Give a UUID.")]})
    membership = active_membership(actor, group)
    found = _stored(membership.pk, client_uuid)
    if found is not None:
        return found
    row, new = _store(
        group=group,
        session=None,
        membership=membership,
        kind=kind,
        note=text,
        client_id=client_uuid,
        hosts_told=False,
    )
    if new:
        _announce(row, actor=actor)
    return row


def _transition(row: SupportRequest, status: str, host: Membership | None) -> bool:
    """Move `row` to `status` by `host`; False when there is nothing to write (already there,
    already further on, or closed). A request another host took is not taken again (409)."""
    current = row.status
    host_id = host.pk if host is not None else None
    if status == SupportStatus.TAKEN and row.taken_by_id not in (None, host_id):
        raise Conflict(_("Another host has taken this."), code="already_taken")
    if current == SupportStatus.CLOSED or current == status:
        return False
    now = timezone.now()
    if status == SupportStatus.SEEN:
        if current != SupportStatus.SENT:
            return False
        row.seen_by, row.seen_at = host, now
    elif status == SupportStatus.TAKEN:
        if row.seen_at is None:
            row.seen_by, row.seen_at = host, now
        row.taken_by, row.taken_at = host, now
    else:
        row.closed_by, row.closed_at = host, now
    row.save(update_fields=["seen_by", "seen_at", "taken_by", "taken_at", "closed_by", "closed_at"])
    return True


def _answer(
    *, actor: User, row: SupportRequest, status: Any, host: Membership | None
) -> SupportRequest:
    """A host's answer to one request (caller holds its row lock): stored, audited, told to
    her and to the hosts of its session after commit."""
    if status not in HOST_STATUSES:
        raise ValidationFailed({"status": [_("Choose seen, taken or closed.")]})
    changed = _transition(row, status, host)
    event = events.support_updated(row)
    if row.session_id is not None:
        realtime.broadcast_on_commit(events.hosts_group(row.session_id), event)
    if not changed:
        return row
    if status == SupportStatus.TAKEN:
        # Taking it opens her private thread, so the host can write to her at once.
        thread_open(group_id=row.group_id, membership_id=row.membership_id)
    if row.session_id is not None:
        realtime.broadcast_on_commit(
            events.participant_group(row.session_id, row.membership_id), event
        )
    else:
        realtime.broadcast_on_commit(realtime.member_group(row.membership_id), event)
    audit_record(
        actor=actor,
        action=f"support.{status}",
        target=row,
        group_id=row.group_id,
        extra={"session_id": row.session_id, "member_id": row.membership_id},
    )
    return row


def _locked(rows: Any, request_id: Any) -> SupportRequest:
    row = rows.select_for_update(of=("self",)).filter(pk=parse_id(request_id)).first()
    if row is None:
        raise NotFound()
    return row


@transaction.atomic
def support_set_status(
    *, actor: User, context: RoomContext, request_id: Any, status: str
) -> SupportRequest:
    """A host in the room sees, takes or closes a request of this session
    (`support.seen` / `support.take` / `support.close`); another session's is not found."""
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    require(actor, Action.SUPPORT_MANAGE, session=session, visible=Action.SESSION_VIEW)
    host = participant_get(context).membership
    rows = SupportRequest.objects.filter(session_id=context.session_id)
    row = _locked(rows.select_related(*SUPPORT_RELATED), request_id)
    return _answer(actor=actor, row=row, status=status, host=host)


@transaction.atomic
def support_set_status_in_group(
    *, actor: User, group: Group, request_id: Any, status: Any
) -> SupportRequest:
    """A facilitator answers a request of her group from outside the room (REST)."""
    require(actor, Action.SUPPORT_MANAGE, group=group)
    # An org admin who is not in the group answers as nobody in it (`by` null).
    host = active_membership(actor, group)
    rows = SupportRequest.objects.filter(group=group).select_related(*SUPPORT_RELATED)
    row = _locked(rows, request_id)
    return _answer(actor=actor, row=row, status=status, host=host)


@transaction.atomic
def support_left(*, actor: User, session_id: Any) -> SupportRequest | None:
    """She used the quick exit on a session's room page (the sign-out beacon's `room`): if
    she was in that room and has not turned it off (`tell_hosts_if_i_leave_quickly`), the
    hosts hear "Lily left quickly" (a `left_quickly` request, no note), so someone can check
    on her later. Anything else is quietly nothing: the beacon must sign her out whatever
    it carries, and the room hears only that she left. One per QUICK_EXIT_GRACE."""
    try:
        pk = parse_id(session_id)
    except ApplicationError:
        return None
    session = Session.objects.prefetch_related("co_hosts").filter(pk=pk).first()
    if session is None or session.status not in ROOM_OPEN:
        return None
    membership = active_membership(actor, session.group_id)
    if membership is None or not preferences_effective(actor)[LEAVE_QUICKLY_PREFERENCE]:
        return None
    now = timezone.now()
    if not was_in_room(session_id=pk, member_id=membership.pk, since=now - QUICK_EXIT_GRACE):
        return None
    recent = SupportRequest.objects.filter(
        session=session,
        membership=membership,
        kind=SupportKind.LEFT_QUICKLY,
        created_at__gte=now - QUICK_EXIT_GRACE,
    )
    if recent.exists():
        return None
    row, _new = _store(
        group_id=session.group_id,
        session=session,
        membership=membership,
        kind=SupportKind.LEFT_QUICKLY,
        note="",
        client_id=uuid.uuid4(),
        hosts_told=hosts_present(session=session),
    )
    _announce(row, actor=actor)
    return row
