"""Check-in and check-out: how she is, said privately on arriving and on leaving a session.

Once per moment per session (`already_answered` after that, nothing written); Skip is kept too
(`checkin_skip`), so she is not asked again after a reload or in another tab. The hosts hear
`checkin` on their group: facilitators read the note, peer mentors only when she shared it
(`events.WITHOUT_NOTE`, chosen per connection by `RoomContext.reads_notes`); her tabs hear
`checkin.saved`. Never the session group (ARCHITECTURE.md rule 5).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import (
    Attendance,
    CheckIn,
    CheckInMoment,
    CheckInSkip,
    Mood,
    Session,
    SessionStatus,
)
from facilitation.selectors import checkin_list
from facilitation.services.context import ROOM_OPEN, RoomContext, participant_get
from groups.models import Membership, User
from groups.policies import Action, active_membership, require
from project import realtime
from project.audit import audit_record
from project.exceptions import ApplicationError, Conflict, ValidationFailed
from project.text import clean_text

CHECKIN_NOTE_MAX = 500


def clean_checkin(*, moment: Any, mood: Any, note: Any, share: Any) -> tuple[str, str, str, bool]:
    """Her answer, checked whole before anything is written (every bad field at once)."""
    fields: dict[str, list[str]] = {}
    try:
        clean_moment(moment)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
    if mood not in Mood.values:
        fields["mood"] = [_("Choose struggling, low, okay, good or strong.")]
    try:
        text = clean_text(note, field="note", max_length=CHECKIN_NOTE_MAX, required=False)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
        text = ""
    if share is None:
        share = False
    elif not isinstance(share, bool):
        fields["share_note_with_peer_mentors"] = [_("Choose true or false.")]
    if fields:
        raise ValidationFailed(fields)
    return moment, mood, text, share


def _may_answer(session: Session, membership: Membership, moment: str) -> None:
    """The one rule of when: arriving while the session runs; leaving until it has ended, or
    afterwards (over REST) when she was in its room."""
    if moment == CheckInMoment.IN and session.status not in ROOM_OPEN:
        raise ApplicationError(_("The session is not running now."), code="not_live")
    attended = Attendance.objects.filter(session=session, membership=membership).exists()
    if not attended:
        raise ApplicationError(_("You were not in this session."), code="not_attended", status=409)


def _save(
    *, actor: User, session: Session, membership: Membership, answer: tuple[str, str, str, bool]
) -> CheckIn:
    moment, mood, text, share = answer
    try:
        with transaction.atomic():
            row = CheckIn.objects.create(
                session=session,
                membership=membership,
                moment=moment,
                mood=mood,
                note=text,
                share_note_with_peer_mentors=share,
            )
    except IntegrityError:
        raise Conflict(
            _("You already answered this one. Thank you."), code="already_answered"
        ) from None
    realtime.broadcast_on_commit(
        events.participant_group(session.pk, membership.pk), events.checkin_saved(row)
    )
    broadcast = realtime.forward_message(events.checkin(row, with_note=True))
    if row.note and not share:
        broadcast[events.WITHOUT_NOTE] = realtime.dumps(events.checkin(row, with_note=False))
    group = events.hosts_group(session.pk)
    transaction.on_commit(lambda: realtime.send_now(group, broadcast))
    audit_record(
        actor=actor,
        action="checkin.saved",
        target=row,
        group_id=session.group_id,
        extra={"session_id": session.pk, "member_id": membership.pk, "moment": moment},
    )
    return row


@transaction.atomic
def checkin_set(
    *,
    actor: User,
    context: RoomContext,
    moment: Any,
    mood: Any,
    note: Any = None,
    share_note_with_peer_mentors: Any = None,
) -> CheckIn:
    """Her check-in or check-out from the room (`checkin.set`)."""
    answer = clean_checkin(moment=moment, mood=mood, note=note, share=share_note_with_peer_mentors)
    membership = participant_get(context).membership
    session = Session.objects.get(pk=context.session_id)
    if session.status == SessionStatus.ENDED:
        raise ApplicationError(_("The session has ended."), code="not_live")
    _may_answer(session, membership, answer[0])
    return _save(actor=actor, session=session, membership=membership, answer=answer)


@transaction.atomic
def checkin_after(
    *,
    actor: User,
    session: Session,
    moment: Any,
    mood: Any,
    note: Any = None,
    share: Any = None,
) -> CheckIn:
    """Her check-out from outside the room (REST), e.g. after the session ended: only `out`,
    only for a session whose room she was in."""
    require(actor, Action.CHECKIN_ANSWER, session=session, visible=Action.SESSION_VIEW)
    answer = clean_checkin(moment=moment, mood=mood, note=note, share=share)
    if answer[0] != CheckInMoment.OUT:
        raise ValidationFailed({"moment": [_("Check in from the room. Here you can check out.")]})
    membership = active_membership(actor, session.group_id)
    _may_answer(session, membership, CheckInMoment.OUT)
    return _save(actor=actor, session=session, membership=membership, answer=answer)


def clean_moment(moment: Any) -> str:
    if moment not in CheckInMoment.values:
        raise ValidationFailed({"moment": [_("Choose in or out.")]})
    return moment


def _skip(*, session: Session, membership: Membership, moment: str) -> None:
    """Kept once (a second Skip, or a Skip after an answer, writes nothing); only her own tabs
    hear `checkin.skipped`: nobody else learns that she passed, not even the audit log."""
    if CheckIn.objects.filter(session=session, membership=membership, moment=moment).exists():
        return
    _row, created = CheckInSkip.objects.get_or_create(
        session=session, membership=membership, moment=moment
    )
    if created:
        realtime.broadcast_on_commit(
            events.participant_group(session.pk, membership.pk), events.checkin_skipped(moment)
        )


@transaction.atomic
def checkin_skip(*, actor: User, context: RoomContext, moment: Any) -> None:
    """She chose Skip in the room (`checkin.skip`): the same moments and times as answering."""
    moment = clean_moment(moment)
    membership = participant_get(context).membership
    session = Session.objects.get(pk=context.session_id)
    if session.status == SessionStatus.ENDED:
        raise ApplicationError(_("The session has ended."), code="not_live")
    _may_answer(session, membership, moment)
    _skip(session=session, membership=membership, moment=moment)


@transaction.atomic
def checkin_skip_after(*, actor: User, session: Session, moment: Any) -> None:
    """She chose Skip for the check-out outside the room (REST), e.g. on the end screen."""
    require(actor, Action.CHECKIN_ANSWER, session=session, visible=Action.SESSION_VIEW)
    if clean_moment(moment) != CheckInMoment.OUT:
        raise ValidationFailed({"moment": [_("Check in from the room. Here you can check out.")]})
    membership = active_membership(actor, session.group_id)
    _may_answer(session, membership, CheckInMoment.OUT)
    _skip(session=session, membership=membership, moment=CheckInMoment.OUT)


@transaction.atomic
def checkins_read(*, actor: User, session: Session) -> list[CheckIn]:
    """Every check-in of a session with its note, for a facilitator; each read is audited
    (who read which session's, and how many), never the notes."""
    rows = list(checkin_list(viewer=actor, session=session))
    audit_record(
        actor=actor,
        action="checkin.read",
        target=session,
        group_id=session.group_id,
        extra={"count": len(rows)},
    )
    return rows
