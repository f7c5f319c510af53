"""Concerns and their answer loop: raising, replying, moving, escalating (by a handler, or by
Haven past the answer-by time), taking and staff-only notes.

Concern text never travels over a session group: alerts carry the id and the urgency only
(`safeguarding.events`), and go to the private groups of the people `safeguarding.policies`
says handle the concern (ARCHITECTURE.md rule 5).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import (
    Message,
)
from groups.models import Membership, MembershipStatus, User
from groups.policies import Action, active_membership, group_for
from project import realtime
from project.audit import audit_record
from project.exceptions import (
    MAX_ID,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    parse_id,
)
from project.text import clean_text
from safeguarding import events, policies
from safeguarding.models import (
    Category,
    Concern,
    ConcernNote,
    ConcernReply,
    ConcernStatus,
    ConcernStatusChange,
    Urgency,
)
from safeguarding.policies import TRANSITIONS, ConcernRole, concern_for
from safeguarding.selectors import URGENCY_RANK, overdue_q

BODY_MAX = 10_000
NOTE_MAX = 2000
STAFF_NOTE_MAX = 5000
MAX_MESSAGES = 20


def acknowledge_within(urgency: str) -> timedelta:
    """How long the handlers have to acknowledge a concern of this urgency."""
    hours = settings.HAVEN_CONCERN_ACK_HOURS[urgency]
    return timedelta(hours=hours)


def _alert(groups: list[str], event: dict[str, Any]) -> None:
    for name in groups:
        realtime.broadcast_on_commit(name, event)


def _updated(concern: Concern) -> None:
    """Tell the reporter and the handlers that a concern changed (never what changed)."""
    _alert(
        policies.concern_update_groups(concern),
        events.concern_updated(concern_id=concern.pk, status=concern.status),
    )


@transaction.atomic
def concern_raise(
    *,
    actor: User,
    group_id: Any,
    category: Any,
    body: Any,
    urgency: Any = Urgency.NORMAL,
    about_member_id: Any = None,
    message_ids: Any = None,
    share_with_peer_mentors: Any = False,
    to_lead: Any = False,
) -> Concern:
    """Raise a concern privately; the group's handlers are alerted at once (id and urgency).

    `to_lead`: she sends it straight to the safeguarding leads ("about a host or how the group
    is run", issue 17). It then takes the leads-only category (`policies.LEADS_ONLY`, the one
    rule), so the group's facilitators and peer mentors never see it.
    """
    group = group_for(actor, group_id, Action.CONCERN_RAISE)
    reporter = active_membership(actor, group)
    if reporter is None:
        raise NotFound()
    fields: dict[str, list[str]] = {}
    if not isinstance(to_lead, bool):
        fields["to_lead"] = [_("Choose who it should go to.")]
    elif to_lead:
        category = policies.LEADS_ONLY["category"]
    if category not in Category.values:
        fields["category"] = [_("Choose one of the categories.")]
    if urgency not in Urgency.values:
        fields["urgency"] = [_("Choose low, normal or urgent.")]
    if not isinstance(share_with_peer_mentors, bool):
        fields["share_with_peer_mentors"] = [_("Choose yes or no.")]
    if fields:
        raise ValidationFailed(fields)
    if to_lead:
        share_with_peer_mentors = False  # the leads alone: nobody in the group sees it
    text = clean_text(body, field="body", max_length=BODY_MAX)
    about = None
    if about_member_id is not None:
        about = Membership.objects.filter(
            group=group, pk=_member_id(about_member_id), status=MembershipStatus.ACTIVE
        ).first()
        if about is None or about.pk == reporter.pk:
            raise ValidationFailed({"about_member_id": [_("Choose another member of this group.")]})
    messages = _referred_messages(reporter, message_ids)
    now = timezone.now()
    concern = Concern(
        group=group,
        reporter=reporter,
        about=about,
        category=category,
        urgency=urgency,
        body=text,
        share_with_peer_mentors=share_with_peer_mentors,
        acknowledge_by=now + acknowledge_within(urgency),
        created_at=now,
    )
    concern.leads_from_start = policies.leads_from_start(concern)
    concern.save(force_insert=True)
    concern.messages.set(messages)
    audit_record(
        actor=actor,
        action="concern.raised",
        target=concern,
        group_id=group.pk,
        extra={"category": category, "urgency": urgency, "messages": len(messages)},
    )
    _alert(
        policies.concern_handler_groups(concern),
        events.concern_raised(concern_id=concern.pk, urgency=urgency),
    )
    return concern


def _member_id(value: Any) -> int:
    try:
        return parse_id(value)
    except NotFound:
        raise ValidationFailed({"about_member_id": [_("Give a member id.")]}) from None


def _referred_messages(reporter: Membership, message_ids: Any) -> list[Message]:
    """Messages she refers to: in her group's sessions, sent while she was in the group."""
    if message_ids is None:
        return []
    if (
        not isinstance(message_ids, list)
        or len(message_ids) > MAX_MESSAGES
        or any(
            isinstance(m, bool) or not isinstance(m, int) or not 0 < m <= MAX_ID
            for m in message_ids
        )
    ):
        raise ValidationFailed(
            {"message_ids": [_("Give up to %(max)d message ids.") % {"max": MAX_MESSAGES}]}
        )
    wanted = set(message_ids)
    found = list(
        Message.objects.filter(
            pk__in=wanted,
            session__group_id=reporter.group_id,
            sent_at__gte=reporter.joined_at,
        )
    )
    if len(found) != len(wanted):
        raise ValidationFailed(
            {"message_ids": [_("Those messages are not from a session of this group.")]}
        )
    return found


@transaction.atomic
def concern_reply(*, actor: User, concern_id: Any, body: Any) -> ConcernReply:
    """Add to the private thread between the woman who raised it and its handlers."""
    text = clean_text(body, field="body", max_length=BODY_MAX)
    concern, role = concern_for(actor=actor, concern_id=concern_id, lock=True)
    if concern.status == ConcernStatus.CLOSED:
        raise Conflict(
            _("This concern is closed. Raise a new one if you need to."), code="concern_closed"
        )
    reply = ConcernReply.objects.create(
        concern=concern, author=actor, from_reporter=role == ConcernRole.REPORTER, body=text
    )
    if not reply.from_reporter:
        _answered(concern, reply.at)
    audit_record(
        actor=actor,
        action="concern.replied",
        target=concern,
        group_id=concern.group_id,
        extra={"role": str(role)},
    )
    _updated(concern)
    return reply


@transaction.atomic
def concern_set_status(
    *, actor: User, concern_id: Any, status: Any, note_to_reporter: Any = None
) -> Concern:
    """Move a concern one step: received → acknowledged → action_taken | escalated → closed.

    Escalating hands it to the safeguarding leads. Peer mentors read and reply; they do not
    move a concern's status.
    """
    concern, role = concern_for(actor=actor, concern_id=concern_id, lock=True)
    if role not in policies.MOVERS:
        raise Forbidden(_("Only the facilitators and safeguarding leads can change this."))
    if status not in ConcernStatus.values:
        raise ValidationFailed({"status": [_("Unknown status.")]})
    note = clean_text(
        note_to_reporter, field="note_to_reporter", max_length=NOTE_MAX, required=False
    )
    if status not in TRANSITIONS[concern.status]:
        raise Conflict(
            _("A concern that is %(current)s cannot become %(wanted)s.")
            % {"current": concern.status, "wanted": status},
            code="invalid_transition",
            extra={"status": concern.status},
        )
    previous = concern.status
    now = timezone.now()
    concern.status = status
    if status == ConcernStatus.ACKNOWLEDGED:
        concern.acknowledged_at = now
    elif status == ConcernStatus.ESCALATED:
        concern.escalated_at = now
    elif status == ConcernStatus.CLOSED:
        concern.closed_at = now
    concern.save(update_fields=["status", "acknowledged_at", "escalated_at", "closed_at"])
    _answered(concern, now)  # her timeline shows every move: an answer she has not read
    ConcernStatusChange.objects.create(
        concern=concern,
        from_status=previous,
        to_status=status,
        note_to_reporter=note,
        actor=actor,
        at=now,
    )
    audit_record(
        actor=actor,
        action="concern.escalated"
        if status == ConcernStatus.ESCALATED
        else "concern.status_changed",
        target=concern,
        group_id=concern.group_id,
        extra={"from": previous, "to": status, "with_note": bool(note)},
    )
    if status == ConcernStatus.ESCALATED:
        _tell_leads(concern)
    _updated(concern)
    return concern


def _answered(concern: Concern, at: datetime) -> None:
    """Someone who handles it answered her: unread for her until she opens it, and the rooms
    she has open show the dot at once (issue 17; the event carries no text)."""
    concern.answered_at = at
    concern.save(update_fields=["answered_at"])
    _answer_waits(concern)


def _answer_waits(concern: Concern) -> None:
    _alert(
        policies.concern_reporter_groups(concern),
        events.concern_answered(concern_id=concern.pk),
    )


def _tell_leads(concern: Concern) -> None:
    """Alert the safeguarding leads, on their own private groups, that it is theirs now."""
    _alert(
        policies.concern_lead_groups(concern),
        events.concern_raised(concern_id=concern.pk, urgency=concern.urgency),
    )


def concerns_escalate_overdue(*, now: datetime | None = None) -> int:
    """Hand every concern nobody acknowledged in time to the safeguarding leads; how many.

    The most urgent first, then by how late it is. Each is escalated exactly as a handler
    escalates it (status, `escalated_at`, the leads alerted, her timeline told, an audit row
    with no actor and no text), in its own transaction. Idempotent and safe to run from many
    processes at once: a concern is claimed with a conditional update, so only one run moves
    it. Cheap when there is nothing to do (one indexed query), so the pages can call it for
    an install with no cron (`frontend.context_processors`).
    """
    moment = now or timezone.now()
    waiting = list(
        Concern.objects.filter(overdue_q(moment))
        .order_by(URGENCY_RANK, "acknowledge_by", "id")
        .values_list("pk", flat=True)
    )
    escalated = 0
    for pk in waiting:
        with transaction.atomic():
            claimed = Concern.objects.filter(overdue_q(moment), pk=pk).update(
                status=ConcernStatus.ESCALATED, escalated_at=moment, answered_at=moment
            )
            if not claimed:  # acknowledged meanwhile, or another run took it
                continue
            concern = Concern.objects.select_related("about").get(pk=pk)
            ConcernStatusChange.objects.create(
                concern=concern,
                from_status=ConcernStatus.RECEIVED,
                to_status=ConcernStatus.ESCALATED,
                actor=None,
                automatic=True,
                at=moment,
            )
            audit_record(
                actor=None,
                action="concern.escalated",
                target=concern,
                group_id=concern.group_id,
                extra={
                    "from": ConcernStatus.RECEIVED.value,
                    "to": ConcernStatus.ESCALATED.value,
                    "automatic": True,
                },
            )
            _tell_leads(concern)
            _updated(concern)
            _answer_waits(concern)
        escalated += 1
    return escalated


@transaction.atomic
def concern_take(*, actor: User, concern_id: Any) -> Concern:
    """She owns the concern now ("I will take it"): one of those who may move it."""
    concern, role = concern_for(actor=actor, concern_id=concern_id, lock=True)
    if role not in policies.TAKERS:
        raise Forbidden(_("Only the facilitators and safeguarding leads can take a concern."))
    if concern.status == ConcernStatus.CLOSED:
        raise Conflict(_("This concern is closed."), code="concern_closed")
    if concern.owner_id == actor.pk:
        return concern
    had_owner = concern.owner_id is not None
    concern.owner = actor
    concern.save(update_fields=["owner"])
    audit_record(
        actor=actor,
        action="concern.taken",
        target=concern,
        group_id=concern.group_id,
        extra={"had_owner": had_owner},
    )
    return concern


@transaction.atomic
def concern_note_add(*, actor: User, concern_id: Any, body: Any) -> ConcernNote:
    """A note only the people who move the concern read; never the woman who raised it."""
    text = clean_text(body, field="body", max_length=STAFF_NOTE_MAX)
    concern, role = concern_for(actor=actor, concern_id=concern_id, lock=True)
    if role not in policies.NOTE_WRITERS:
        # A peer mentor who reads the concern does not learn that staff notes exist.
        raise NotFound()
    note = ConcernNote.objects.create(concern=concern, author=actor, body=text)
    audit_record(actor=actor, action="concern.noted", target=concern, group_id=concern.group_id)
    return note
