"""What hosts do to messages and members in the room: hide, warn, mute, remove.

Every action is audited (never its text); the member it concerns is told who and why in a
private notice (`services.notices`). A mute is not announced by name: the room reads
`member.muted` without her (`events.as_read_by`), and only that someone is taking a pause
when the host chooses to tell it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.log import event_append
from facilitation.models import Message, NoticeCode, Participant, Session
from facilitation.services.context import RoomContext, audit_room, host_session
from facilitation.services.notices import notice_send
from facilitation.services.rounds import round_pass_for
from facilitation.taxonomy import clean_warning
from groups.models import GroupRole, Membership, MembershipStatus, User
from groups.policies import Action
from project import closecodes, realtime
from project.exceptions import Forbidden, NotFound, ValidationFailed, parse_id
from project.text import clean_text

REASON_MAX = 500
MUTE_MINUTES_MIN, MUTE_MINUTES_MAX = 1, 120


def _reason(value: Any, *, required: bool = True) -> str:
    return clean_text(
        value,
        field="reason",
        max_length=REASON_MAX,
        required=required,
        missing=_("Give a short reason. Only she will see it."),
    )


def _host(context: RoomContext) -> Membership | None:
    """The acting host's membership, named in the notices she causes."""
    return Membership.objects.filter(pk=context.member_id).first()


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


@transaction.atomic
def message_hide(*, actor: User, context: RoomContext, message_id: Any, reason: Any) -> None:
    """Hide a message for everyone; its author is told why, privately."""
    text = _reason(reason)
    session = host_session(actor, context)
    message = _session_message(session, message_id)
    if message.hidden_at is not None:
        return
    message.hidden_at = timezone.now()
    message.hide_reason = text
    message.save(update_fields=["hidden_at", "hide_reason"])
    event_append(session=session, event=events.message_hidden(message_id=message.pk))
    if message.author_id is not None:
        notice_send(
            session=session,
            recipient_id=message.author_id,
            code=NoticeCode.MESSAGE_HIDDEN,
            by=_host(context),
            reason=text,
            message=message,
        )
    audit_room(actor, "message.hidden", message, session)


@transaction.atomic
def message_set_warning(
    *,
    actor: User,
    context: RoomContext,
    message_id: Any,
    content_warning: Any,
    reason: Any = None,
) -> None:
    """A host adds (or changes, or clears with null) the content warning of a message; with a
    `reason`, its author is told why, privately."""
    category, note = clean_warning(content_warning)
    text = _reason(reason, required=False)
    session = host_session(actor, context)
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
    if text and message.author_id is not None:
        notice_send(
            session=session,
            recipient_id=message.author_id,
            code=NoticeCode.WARNING_ADDED,
            by=_host(context),
            reason=text,
            message=message,
        )
    audit_room(actor, "message.warning_set", message, session, category=category or None)


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
    *,
    actor: User,
    context: RoomContext,
    member_id: Any,
    minutes: Any,
    reason: Any,
    tell_room: Any = False,
) -> None:
    """Mute a member for MUTE_MINUTES_MIN to MUTE_MINUTES_MAX minutes; the reason goes to
    her alone. The room is not told who: with `tell_room`, only that someone is taking a
    pause."""
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not (MUTE_MINUTES_MIN <= minutes <= MUTE_MINUTES_MAX)
    ):
        raise ValidationFailed(
            {
                "minutes": [
                    _("Between %(min)d and %(max)d minutes.")
                    % {"min": MUTE_MINUTES_MIN, "max": MUTE_MINUTES_MAX}
                ]
            }
        )
    if tell_room is None:
        tell_room = False
    if not isinstance(tell_room, bool):
        raise ValidationFailed({"tell_room": [_("Choose true or false.")]})
    text = _reason(reason)
    session = host_session(actor, context)
    participant = _target_participant(session, member_id)
    _refuse_host_target(session, participant.membership)
    participant.muted_until = timezone.now() + timedelta(minutes=minutes)
    participant.mute_reason = text
    participant.mute_announced = tell_room
    participant.save(update_fields=["muted_until", "mute_reason", "mute_announced"])
    member = participant.membership
    event_append(
        session=session,
        event=events.member_muted(
            member_id=member.pk, until=participant.muted_until, announced=tell_room
        ),
    )
    notice_send(
        session=session,
        recipient_id=member.pk,
        code=NoticeCode.MUTED,
        by=_host(context),
        reason=text,
        until=participant.muted_until,
    )
    audit_room(actor, "member.muted", member, session, minutes=minutes, told_room=tell_room)


@transaction.atomic
def member_unmute(*, actor: User, context: RoomContext, member_id: Any) -> None:
    """End a mute early; she is told she can post again."""
    session = host_session(actor, context)
    participant = _target_participant(session, member_id)
    announced = participant.mute_announced
    participant.muted_until = None
    participant.mute_reason = ""
    participant.mute_announced = False
    participant.save(update_fields=["muted_until", "mute_reason", "mute_announced"])
    member = participant.membership
    event_append(
        session=session, event=events.member_unmuted(member_id=member.pk, announced=announced)
    )
    notice_send(session=session, recipient_id=member.pk, code=NoticeCode.UNMUTED, by=_host(context))
    audit_room(actor, "member.unmuted", member, session)


@transaction.atomic
def member_remove_from_session(
    *, actor: User, context: RoomContext, member_id: Any, reason: Any
) -> None:
    """Remove a member from this session: her connections close (FORBIDDEN), for good."""
    text = _reason(reason)
    session = host_session(actor, context, Action.SESSION_END)
    participant = _target_participant(session, member_id)
    _refuse_host_target(session, participant.membership)
    if participant.removed_at is not None:
        return
    participant.removed_at = timezone.now()
    participant.remove_reason = text
    participant.save(update_fields=["removed_at", "remove_reason"])
    member = participant.membership
    event_append(session=session, event=events.member_removed(member_id=member.pk))
    notice_send(
        session=session,
        recipient_id=member.pk,
        code=NoticeCode.REMOVED,
        by=_host(context),
        reason=text,
    )
    # After the notice: she reads why before her connections close.
    realtime.close_on_commit(events.participant_group(session.pk, member.pk), closecodes.FORBIDDEN)
    round_pass_for(session_id=session.pk, member_id=member.pk, session=session)
    audit_room(actor, "member.removed_from_session", member, session)
