"""Afterwards (issue 16): what hosts do once a session has ended. Tick a follow-up, write a
private debrief note and a handover note for the next facilitator, and ask a safeguarding lead
to talk after a hard session. Notes are encrypted (their models), audited without their text
and emptied by retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import (
    Attendance,
    CheckIn,
    CheckInMoment,
    Debrief,
    FollowUp,
    HandoverNote,
    Mood,
    PresenceStatus,
    Session,
    SessionStatus,
    SupportKind,
    SupportRequest,
    TalkRequest,
)
from facilitation.selectors import safeguarding_leads, session_ended_at
from groups.models import Membership, User
from groups.policies import Action, active_membership, can, require
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

DEBRIEF_MAX = 4000
HANDOVER_MAX = 2000


# --- the summary's reads ---------------------------------------------------------------------
# They live beside its writes: they are read for the summary only, and facilitation/selectors.py
# is at the size the layout allows.

# Someone who left the room more than this before the session ended left early.
LEFT_EARLY_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class RegisterRow:
    """One person on a session's register. Never who passed in a round: the register does
    not read rounds at all. `concerns` is filled in by the caller that may count them (the
    safeguarding app decides who sees which concern)."""

    membership: Membership
    came_at: datetime
    left_at: datetime | None
    left_early: bool
    left_quickly: bool
    stepped_out: bool
    support: tuple[str, ...]
    concerns: int = 0


@dataclass(frozen=True)
class FollowUpRow:
    """Someone to follow up after a session, why (support asked, arrived or left struggling,
    left quickly) and whether a host has ticked it."""

    membership: Membership
    reasons: tuple[str, ...]
    done_at: datetime | None
    done_by: Membership | None


def summary_get_for(*, viewer: User, session_id: Any) -> tuple[Session, dict[str, bool]]:
    """A session for its summary page, with what of it `viewer` may see or do; `NotFound`
    when nothing (a session that does not exist, members, peer mentors who did not co-host
    it, other groups' staff)."""
    session = (
        Session.objects.select_related("group")
        .prefetch_related("co_hosts")
        .filter(pk=parse_id(session_id))
        .first()
    )
    if session is None:
        raise NotFound()
    rights = {
        "register": can(viewer, Action.REGISTER_VIEW, session=session),
        "follow_ups": can(viewer, Action.FOLLOW_UP_MANAGE, session=session),
        "debrief_read": can(viewer, Action.DEBRIEF_READ, session=session),
        "debrief_write": can(viewer, Action.DEBRIEF_WRITE, session=session),
        "talk": can(viewer, Action.TALK_REQUEST, session=session),
    }
    if not any(rights.values()):
        raise NotFound()
    return session, rights


def register(*, viewer: User, session: Session) -> list[RegisterRow]:
    """Everyone who came into the room, in the order they came: when, whether she left early
    (or quickly), stepped out, asked for support. For its hosts (`Action.REGISTER_VIEW`)."""
    require(viewer, Action.REGISTER_VIEW, session=session, visible=Action.REGISTER_VIEW)
    ended = session_ended_at(session) if session.status == SessionStatus.ENDED else None
    visits: dict[int, list[Attendance]] = {}
    for row in Attendance.objects.filter(session=session).select_related("membership"):
        visits.setdefault(row.membership_id, []).append(row)
    support: dict[int, list[str]] = {}
    for member_id, kind in SupportRequest.objects.filter(session=session).values_list(
        "membership_id", "kind"
    ):
        support.setdefault(member_id, []).append(kind)
    rows = []
    for member_id, rows_of in visits.items():
        open_now = any(v.left_at is None for v in rows_of)
        left_at = None if open_now else max(v.left_at for v in rows_of if v.left_at)
        kinds = support.get(member_id, [])
        rows.append(
            RegisterRow(
                membership=rows_of[0].membership,
                came_at=min(v.joined_at for v in rows_of),
                left_at=left_at,
                left_early=bool(
                    ended and left_at is not None and left_at < ended - LEFT_EARLY_MARGIN
                ),
                left_quickly=SupportKind.LEFT_QUICKLY in kinds,
                stepped_out=any(
                    v.stepped_out_at is not None or v.status == PresenceStatus.STEPPED_OUT
                    for v in rows_of
                ),
                support=tuple(
                    str(SupportKind(k).label) for k in kinds if k != SupportKind.LEFT_QUICKLY
                ),
            )
        )
    return sorted(rows, key=lambda r: (r.came_at, r.membership.pk))


def follow_ups(*, viewer: User, session: Session) -> list[FollowUpRow]:
    """Who to follow up after a session: she asked for support (in the room, or left quickly),
    or arrived or left struggling. For those who read check-ins (`Action.FOLLOW_UP_MANAGE`)."""
    require(viewer, Action.FOLLOW_UP_MANAGE, session=session, visible=Action.REGISTER_VIEW)
    reasons: dict[int, list[str]] = {}
    people: dict[int, Membership] = {}
    for row in SupportRequest.objects.filter(session=session).select_related("membership"):
        people[row.membership_id] = row.membership
        if row.kind == SupportKind.LEFT_QUICKLY:
            reasons.setdefault(row.membership_id, []).append(_("Left quickly"))
        else:
            reasons.setdefault(row.membership_id, []).append(
                _("Asked for support: %(kind)s") % {"kind": SupportKind(row.kind).label}
            )
    struggling = CheckIn.objects.filter(session=session, mood=Mood.STRUGGLING).select_related(
        "membership"
    )
    for row in struggling:
        people[row.membership_id] = row.membership
        reasons.setdefault(row.membership_id, []).append(
            _("Arrived struggling") if row.moment == CheckInMoment.IN else _("Left struggling")
        )
    ticks = {
        tick.membership_id: tick
        for tick in FollowUp.objects.filter(session=session).select_related("done_by")
    }
    rows = []
    for member_id, membership in people.items():
        tick = ticks.get(member_id)
        rows.append(
            FollowUpRow(
                membership=membership,
                reasons=tuple(dict.fromkeys(reasons[member_id])),
                done_at=tick.done_at if tick else None,
                done_by=tick.done_by if tick else None,
            )
        )
    return sorted(rows, key=lambda r: (r.membership.display_name_key, r.membership.pk))


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
