"""Afterwards (issue 16): what hosts do once a session has ended. Tick a follow-up, write a
private debrief note and a handover note for the next facilitator, and ask a safeguarding lead
to talk after a hard session. Notes are encrypted (their models), audited without their text
and emptied by retention."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import (
    Debrief,
    FollowUp,
    HandoverNote,
    Session,
    SessionStatus,
    TalkRequest,
)
from facilitation.selectors import follow_ups, safeguarding_leads
from groups.models import User
from groups.policies import Action, active_membership, require
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

DEBRIEF_MAX = 4000
HANDOVER_MAX = 2000


def _ended(session: Session) -> None:
    if session.status != SessionStatus.ENDED:
        raise Conflict(_("This can be written once the session has ended."), code="not_ended")


@transaction.atomic
def follow_up_set(*, actor: User, session: Session, member_id: Any, done: bool) -> FollowUp:
    """Tick (or untick) one person on the session's follow-up list; anyone not on it is not
    found. Audited with whose follow-up it was, never why."""
    listed = {row.membership.pk for row in follow_ups(viewer=actor, session=session)}
    pk = parse_id(member_id)
    if pk not in listed:
        raise NotFound()
    row, _created = FollowUp.objects.select_for_update().get_or_create(
        session=session, membership_id=pk
    )
    if done and row.done_at is None:
        row.done_at = timezone.now()
        row.done_by = active_membership(actor, session.group_id)
    elif not done:
        row.done_at, row.done_by = None, None
    row.save(update_fields=["done_at", "done_by"])
    audit_record(
        actor=actor,
        action="follow_up.done" if done else "follow_up.reopened",
        target=session,
        group_id=session.group_id,
        extra={"member_id": pk},
    )
    return row


@transaction.atomic
def follow_ups_save(*, actor: User, session: Session, done: Any) -> int:
    """The follow-up checklist saved at once: everyone listed in `done` (member ids) ticked,
    everyone else on the list not. Returns how many changed; an id not on the list changes
    nothing at all."""
    if not isinstance(done, list) or not all(str(v).isdigit() for v in done):
        raise ValidationFailed({"done": [_("Give a list of member ids.")]})
    wanted = {int(v) for v in done}
    rows = follow_ups(viewer=actor, session=session)
    if wanted - {row.membership.pk for row in rows}:
        raise NotFound()
    changed = 0
    for row in rows:
        tick = row.membership.pk in wanted
        if tick != (row.done_at is not None):
            follow_up_set(actor=actor, session=session, member_id=row.membership.pk, done=tick)
            changed += 1
    return changed


@transaction.atomic
def debrief_write(*, actor: User, session: Session, body: Any) -> Debrief:
    """A host's private debrief note after the session (the group's facilitators and the
    leads read it; for anyone else it does not exist)."""
    require(actor, Action.DEBRIEF_WRITE, session=session, visible=Action.DEBRIEF_READ)
    text = clean_text(
        body, field="body", max_length=DEBRIEF_MAX, missing=_("Write your debrief note first.")
    )
    _ended(session)
    row = Debrief.objects.create(
        session=session, author=active_membership(actor, session.group_id), body=text
    )
    audit_record(
        actor=actor,
        action="debrief.written",
        target=session,
        group_id=session.group_id,
        extra={"debrief_id": row.pk},
    )
    return row


@transaction.atomic
def debriefs_read(*, actor: User, session: Session) -> list[Debrief]:
    """The session's debrief notes, oldest first; each read is audited (how many), never the
    text. Members, peer mentors and other groups' staff: not found."""
    require(actor, Action.DEBRIEF_READ, session=session, visible=Action.DEBRIEF_READ)
    rows = list(Debrief.objects.filter(session=session).select_related("author"))
    audit_record(
        actor=actor,
        action="debrief.read",
        target=session,
        group_id=session.group_id,
        extra={"count": len(rows)},
    )
    return rows


@transaction.atomic
def handover_write(*, actor: User, session: Session, body: Any) -> HandoverNote:
    """The note for the next facilitator, shown on the group page until a newer one. One per
    session: writing again replaces it."""
    require(actor, Action.DEBRIEF_WRITE, session=session, visible=Action.DEBRIEF_READ)
    text = clean_text(
        body, field="body", max_length=HANDOVER_MAX, missing=_("Write the handover note first.")
    )
    _ended(session)
    author = active_membership(actor, session.group_id)
    row = HandoverNote.objects.select_for_update().filter(session=session).last()
    if row is None:
        row = HandoverNote.objects.create(session=session, author=author, body=text)
    else:
        row.author, row.body, row.created_at = author, text, timezone.now()
        row.save(update_fields=["author", "body", "created_at"])
    audit_record(
        actor=actor,
        action="handover.written",
        target=session,
        group_id=session.group_id,
        extra={"handover_id": row.pk},
    )
    return row


@transaction.atomic
def talk_request(*, actor: User, session: Session, lead_id: Any) -> TalkRequest:
    """A host asks to talk ("This was a hard session, I would like to talk to someone"): the
    lead she chose sees it on her pages (`talk_requests_for`), nobody else. No text travels."""
    require(actor, Action.TALK_REQUEST, session=session, visible=Action.REGISTER_VIEW)
    lead = None
    if isinstance(lead_id, int | str) and str(lead_id).isdigit():
        lead = safeguarding_leads().filter(pk=int(lead_id)).first()
    if lead is None:
        raise ValidationFailed({"lead": [_("Choose who you would like to talk to.")]})
    row = TalkRequest.objects.create(
        session=session, by=active_membership(actor, session.group_id), lead=lead
    )
    audit_record(
        actor=actor,
        action="talk.requested",
        target=session,
        group_id=session.group_id,
        extra={"lead_id": lead.pk},
    )
    return row
