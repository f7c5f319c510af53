"""Writes for concerns and their answer loop, retention, and a member's own data rights.

Concern text never travels over a session group: alerts carry the id and the urgency only
(`safeguarding.events`), and go to the private groups of the people `safeguarding.policies`
says handle the concern (ARCHITECTURE.md rule 5).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import (
    CheckIn,
    Message,
    PlanItem,
    PrivateMessage,
    PrivateNotice,
    Round,
    SessionEvent,
    SupportRequest,
)
from groups.models import AgreementProposal, Group, GroupRole, Membership, MembershipStatus, User
from groups.policies import Action, active_membership, group_for
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import (
    MAX_ID,
    ApplicationError,
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
) -> Concern:
    """Raise a concern privately; the group's handlers are alerted at once (id and urgency)."""
    group = group_for(actor, group_id, Action.CONCERN_RAISE)
    reporter = active_membership(actor, group)
    if reporter is None:
        raise NotFound()
    fields: dict[str, list[str]] = {}
    if category not in Category.values:
        fields["category"] = [_("Choose one of the categories.")]
    if urgency not in Urgency.values:
        fields["urgency"] = [_("Choose low, normal or urgent.")]
    if not isinstance(share_with_peer_mentors, bool):
        fields["share_with_peer_mentors"] = [_("Choose yes or no.")]
    if fields:
        raise ValidationFailed(fields)
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
    ConcernStatusChange.objects.create(
        concern=concern, from_status=previous, to_status=status, note_to_reporter=note, actor=actor
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
                status=ConcernStatus.ESCALATED, escalated_at=moment
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


# --- retention -------------------------------------------------------------------------------


# The texts retention empties besides a message's own (model, path to the group, when it was
# written, the text): status notes and round prompts in the log, the rounds' prompts, the plan's
# notes (by the session's end), the reasons in her private notices, what she wrote asking for
# support, check-in notes and private messages; and the staff notes on a concern, counted from
# when the concern was closed (an open one keeps them). The rows stay, without their words.
RETAINED_TEXTS: tuple[tuple[type[models.Model], str, str, str], ...] = (
    (SessionEvent, "session__group", "created_at", "text"),
    (Round, "session__group", "started_at", "prompt"),
    (PlanItem, "session__group", "session__ends_at", "notes"),
    (PrivateNotice, "session__group", "created_at", "reason"),
    (SupportRequest, "group", "created_at", "note"),
    (CheckIn, "session__group", "created_at", "note"),
    (PrivateMessage, "thread__group", "created_at", "body"),
    (ConcernNote, "concern__group", "concern__closed_at", "body"),
)


def purge_expired(*, now: datetime | None = None) -> dict[str, int]:
    """Delete message text past each group's retention, except what an open concern holds.

    Idempotent: a second run finds nothing more to do. The message rows stay (their place in
    the session log) with the text, warnings' notes and hide reasons gone; so do private
    notices, without their reasons, support requests and check-ins, without their notes, and
    private messages, without their bodies.
    """
    moment = now or timezone.now()
    purged = 0
    held = 0
    for group in Group.objects.all().only("pk", "retention_days"):
        cutoff = moment - timedelta(days=group.retention_days)
        expired = Message.objects.filter(
            session__group=group, sent_at__lt=cutoff, purged_at__isnull=True
        )
        # Held while any concern that refers to it is still open (one closed concern does
        # not release a message another open concern needs).
        open_statuses = [v for v in ConcernStatus.values if v != ConcernStatus.CLOSED]
        holding = (
            expired.filter(concerns__status__in=open_statuses)
            .values_list("pk", flat=True)
            .distinct()
        )
        held_ids = set(holding)
        held += len(held_ids)
        with transaction.atomic():
            purged += expired.exclude(pk__in=held_ids).update(
                body="", cw_note="", hide_reason="", purged_at=moment
            )
            # The room shows a held message exactly like a purged one (`held_at`); its text
            # stays for the concern's handlers until no open concern holds it.
            expired.filter(pk__in=held_ids, held_at__isnull=True).update(held_at=moment)
            # Every other text the group's sessions hold, past retention: one rule, one list.
            for model, group_path, moment_field, text_field in RETAINED_TEXTS:
                model.objects.filter(**{group_path: group, f"{moment_field}__lt": cutoff}).exclude(
                    **{text_field: ""}
                ).update(**{text_field: ""})
    if purged:
        audit_record(
            actor=None,
            action="retention.purged",
            target_type="message",
            target_id="*",
            extra={"messages": purged, "held": held},
        )
    return {"purged": purged, "held_by_open_concerns": held}


class EraseRefused(ApplicationError):
    status = 409
    code = "cannot_erase"


# --- a member's own data ---------------------------------------------------------------------

ANOTHER_MEMBER = "another member"


def member_export(*, actor: User) -> dict[str, Any]:
    """Everything Haven holds about the actor, readable; other people only as "another member"."""
    memberships = list(Membership.objects.filter(user=actor).select_related("group"))
    mine = {m.pk for m in memberships}
    messages = (
        Message.objects.filter(author_id__in=mine)
        .select_related("session__group")
        .order_by("sent_at")
    )
    concerns = (
        Concern.objects.filter(reporter_id__in=mine)
        .select_related("group")
        .prefetch_related("history", "replies")
    )
    notices = (
        PrivateNotice.objects.filter(recipient_id__in=mine)
        .select_related("session__group")
        .order_by("created_at", "pk")
    )
    support = (
        SupportRequest.objects.filter(membership_id__in=mine)
        .select_related("group", "session")
        .order_by("created_at", "pk")
    )
    checkins = (
        CheckIn.objects.filter(membership_id__in=mine)
        .select_related("session__group")
        .order_by("created_at", "pk")
    )
    private = (
        PrivateMessage.objects.filter(Q(thread__membership_id__in=mine) | Q(author_id__in=mine))
        .select_related("thread__group")
        .order_by("created_at", "pk")
    )
    stamp = timezone.localtime
    export = {
        "account": {
            "username": actor.username,
            "org_role": actor.org_role,
            "preferences": actor.preferences,
            "created_at": stamp(actor.date_joined).isoformat(),
        },
        "groups": [
            {
                "group": m.group.name,
                "display_name": m.display_name,
                "role": m.role,
                "status": m.status,
                "joined_at": stamp(m.joined_at).isoformat(),
            }
            for m in memberships
        ],
        "messages": [
            {
                "group": msg.session.group.name,
                "session": msg.session.title,
                "sent_at": stamp(msg.sent_at).isoformat(),
                # A message an open concern holds past retention looks like a deleted one
                # here too (the safeguarding exemption, README "Data protection").
                "body": None if msg.purged_at or msg.held_at else msg.body,
                "content_warning": (
                    {**msg.content_warning, "note": None}
                    if msg.held_at and msg.content_warning
                    else msg.content_warning
                ),
                "hidden_by_a_host": msg.hidden_at is not None,
                "deleted_by_retention": msg.purged_at is not None or msg.held_at is not None,
            }
            for msg in messages
        ],
        "concerns": [
            {
                "group": c.group.name,
                "category": c.category,
                "urgency": c.urgency,
                "status": c.status,
                "raised_at": stamp(c.created_at).isoformat(),
                "body": c.body,
                "about": ANOTHER_MEMBER if c.about_id else None,
                "history": [
                    {
                        "from": h.from_status,
                        "to": h.to_status,
                        "at": stamp(h.at).isoformat(),
                        "note_to_you": h.note_to_reporter or None,
                    }
                    for h in c.history.all()
                ],
                "replies": [
                    {
                        "from": "you" if r.from_reporter else "the people handling it",
                        "at": stamp(r.at).isoformat(),
                        "body": r.body,
                    }
                    for r in c.replies.all()
                ],
            }
            for c in concerns
        ],
        # What hosts told her privately in the room (the host herself is not named).
        "notices": [
            {
                "group": n.session.group.name,
                "session": n.session.title,
                "code": n.code,
                "reason": n.reason or None,
                "at": stamp(n.created_at).isoformat(),
                "until": stamp(n.until).isoformat() if n.until else None,
                "dismissed": n.dismissed_at is not None,
            }
            for n in notices
        ],
        # Her "I need support" requests (the hosts who answered are not named).
        "support_requests": [
            {
                "group": r.group.name,
                "session": r.session.title if r.session else None,
                "kind": r.kind,
                "note": r.note or None,
                "at": stamp(r.created_at).isoformat(),
                "hosts_told": r.hosts_told,
                "status": r.status,
            }
            for r in support
        ],
        "checkins": [
            {
                "group": c.session.group.name,
                "session": c.session.title,
                "moment": c.moment,
                "mood": c.mood,
                "note": c.note or None,
                "shared_with_peer_mentors": c.share_note_with_peer_mentors,
                "at": stamp(c.created_at).isoformat(),
            }
            for c in checkins
        ],
        # Her private threads with the hosts, and what she wrote in others' as a host.
        "private_messages": [
            {
                "group": p.thread.group.name,
                "thread": "yours" if p.thread.membership_id in mine else ANOTHER_MEMBER,
                "from": "you" if p.author_id in mine else "a host",
                "body": p.body or None,
                "at": stamp(p.created_at).isoformat(),
            }
            for p in private
        ],
        "agreements_accepted": [
            {
                "group": a.agreement.group.name,
                "version": a.agreement.version,
                "accepted_at": stamp(a.accepted_at).isoformat(),
            }
            for m in memberships
            for a in m.acceptances.select_related("agreement__group")
        ],
        "agreement_proposals": [
            {
                "group": m.group.name,
                "text": p.text,
                "status": p.status,
                "response": p.response_note or None,
            }
            for m in memberships
            for p in m.proposals.all()
        ],
    }
    with transaction.atomic():
        audit_record(actor=actor, action="account.exported", target=actor)
    return export


@transaction.atomic
def account_erase(*, actor: User, password: Any) -> None:
    """Erase the actor's account and what she wrote.

    Her messages lose their text, except messages a concern refers to, which are kept as part
    of that safeguarding record, without her name; concerns she raised are kept, no longer
    linked to any account. Everything else about her (memberships, display names, tokens,
    acceptances, proposals, attendance, the private notices hosts sent her, her support
    requests and check-ins, her private thread) is deleted; a notice she sent others as a
    host, a request of theirs she answered, or what she wrote in their private threads, stays
    theirs, no longer naming her.
    """
    if not isinstance(password, str) or not actor.check_password(password):
        raise ValidationFailed({"password": [_("That password is not right.")]})
    memberships = Membership.objects.filter(user=actor)
    for membership in memberships.filter(
        role=GroupRole.FACILITATOR, status=MembershipStatus.ACTIVE
    ):
        others = Membership.objects.filter(
            group_id=membership.group_id, role=GroupRole.FACILITATOR, status=MembershipStatus.ACTIVE
        ).exclude(pk=membership.pk)
        if not others.exists():
            raise EraseRefused(
                _("You are the only facilitator of a group. Hand it over before erasing.")
            )
    now = timezone.now()
    authored = Message.objects.filter(author__in=memberships)
    held = list(authored.filter(concerns__isnull=False).values_list("pk", flat=True))
    authored.exclude(pk__in=held).update(
        body="", cw_note="", hide_reason="", purged_at=now, author=None
    )
    authored.filter(pk__in=held, held_at__isnull=True).update(held_at=now)
    authored.update(author=None)
    AgreementProposal.objects.filter(proposer__in=memberships).delete()
    user_id = actor.pk
    audit_record(actor=None, action="account.erased", target_type="user", target_id=user_id)
    realtime.close_on_commit(realtime.user_group(user_id), closecodes.NOT_SIGNED_IN)
    actor.delete()
