"""A private word with a host: one thread per member of a group, between her and its hosts.

She writes in her own thread; a host of the session (or a facilitator, over REST) writes in
any member's. Bodies are encrypted and emptied by retention. A message goes to her member
group (all her connections) and to the hosts group of each running session she is in (and of
the room it was written from), never to a session group (ARCHITECTURE.md rule 5); `resume`
sends them again (`selectors.private_replay`). The same `client_id` again stores nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import Participant, PrivateMessage, PrivateThread, Session
from facilitation.selectors import private_messages, private_target
from facilitation.services.context import ROOM_OPEN, RoomContext, participant_get
from facilitation.services.messages import clean_client_id
from groups.models import Group, Membership, MembershipStatus, User
from groups.policies import Action, active_membership, can
from project import realtime
from project.audit import audit_record
from project.exceptions import Forbidden, NotFound, ValidationFailed, parse_id
from project.text import clean_text

PRIVATE_BODY_MAX = 2000


def clean_private(*, body: Any, client_id: Any) -> tuple[str, uuid.UUID]:
    """The message (1-PRIVATE_BODY_MAX) and the client's id, every bad field at once."""
    fields: dict[str, list[str]] = {}
    text = ""
    client_uuid = None
    try:
        text = clean_text(body, field="body", max_length=PRIVATE_BODY_MAX)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
    try:
        client_uuid = clean_client_id(client_id)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
    if fields or client_uuid is None:
        raise ValidationFailed(fields)
    return text, client_uuid


def thread_open(*, group_id: int, membership_id: int) -> PrivateThread:
    """Her thread, made the first time anyone opens it (her, a host's reply, a host taking her
    support request)."""
    try:
        with transaction.atomic():
            thread, _made = PrivateThread.objects.get_or_create(
                group_id=group_id, membership_id=membership_id
            )
    except IntegrityError:
        thread = PrivateThread.objects.get(group_id=group_id, membership_id=membership_id)
    return thread


def _recipients(thread: PrivateThread, *, session_id: int | None) -> list[str]:
    """Her connections, and the hosts of every running session she is in (and of the room
    the message was written from)."""
    sessions = set(
        Participant.objects.filter(
            membership_id=thread.membership_id,
            session__group_id=thread.group_id,
            session__status__in=ROOM_OPEN,
        ).values_list("session_id", flat=True)
    )
    if session_id is not None:
        sessions.add(session_id)
    return [
        realtime.member_group(thread.membership_id),
        *(events.hosts_group(pk) for pk in sorted(sessions)),
    ]


def _write(
    *,
    actor: User,
    author: Membership,
    thread_member: Membership,
    text: str,
    client_uuid: uuid.UUID,
    session_id: int | None,
) -> PrivateMessage:
    found = PrivateMessage.objects.filter(author=author, client_id=client_uuid).first()
    thread = thread_open(group_id=thread_member.group_id, membership_id=thread_member.pk)
    if found is None:
        try:
            with transaction.atomic():
                found = PrivateMessage.objects.create(
                    thread=thread, author=author, body=text, client_id=client_uuid
                )
        except IntegrityError:
            found = PrivateMessage.objects.get(author=author, client_id=client_uuid)
        else:
            PrivateThread.objects.filter(pk=thread.pk).update(last_message_at=timezone.now())
            audit_record(
                actor=actor,
                action="private.sent",
                target=found,
                group_id=thread.group_id,
                extra={"member_id": thread_member.pk, "session_id": session_id},
            )
    found.author = author
    event = events.private_message(found, thread_member_id=found.thread.membership_id)
    # A resend goes out again too: it is the sender's answer, and clients drop copies.
    for group in _recipients(found.thread, session_id=session_id):
        realtime.broadcast_on_commit(group, event)
    return found


@transaction.atomic
def private_send(
    *, actor: User, context: RoomContext, client_id: Any, body: Any, member_id: Any = None
) -> PrivateMessage:
    """`private.send` from the room: she writes in her own thread (`member_id` left out, or
    her own); a host of the session writes in `member_id`'s. A member naming someone else is
    forbidden; a host naming someone not in the group finds nobody (not_found)."""
    text, client_uuid = clean_private(body=body, client_id=client_id)
    author = participant_get(context).membership
    thread_member = author
    if member_id is not None and member_id != context.member_id:
        session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
        if not can(actor, Action.PRIVATE_HOST, session=session, membership=author):
            raise Forbidden(_("You can only write in your own private thread."))
        thread_member = Membership.objects.filter(
            pk=parse_id(member_id), group_id=context.group_id, status=MembershipStatus.ACTIVE
        ).first()
        if thread_member is None:
            raise NotFound()
    return _write(
        actor=actor,
        author=author,
        thread_member=thread_member,
        text=text,
        client_uuid=client_uuid,
        session_id=context.session_id,
    )


@transaction.atomic
def private_post(
    *, actor: User, group: Group, member_id: Any, client_id: Any, body: Any
) -> PrivateMessage:
    """A message in `member_id`'s thread from outside the room (REST): her own, or a
    facilitator's answer. Whoever may not open that thread finds nothing (404)."""
    thread_member = private_target(viewer=actor, group=group, member_id=member_id)
    text, client_uuid = clean_private(body=body, client_id=client_id)
    author = active_membership(actor, group)
    if author is None:
        # An org admin outside the group reads threads; only people in it write in them.
        raise Forbidden(_("Only people in this group can write to its members."))
    return _write(
        actor=actor,
        author=author,
        thread_member=thread_member,
        text=text,
        client_uuid=client_uuid,
        session_id=None,
    )


@transaction.atomic
def private_read(*, actor: User, group: Group, member_id: Any) -> list[PrivateMessage]:
    """One thread's messages over REST, oldest first: her own, or (facilitators) any member's,
    each read of someone else's thread audited (never its text)."""
    thread_member = private_target(viewer=actor, group=group, member_id=member_id)
    rows = list(private_messages(thread_member=thread_member))
    if thread_member.user_id != actor.pk:
        audit_record(
            actor=actor,
            action="private.read",
            target_type="membership",
            target_id=thread_member.pk,
            group_id=group.pk,
            extra={"count": len(rows)},
        )
    return rows
