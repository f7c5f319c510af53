"""A member's own data rights: export everything Haven holds about her, and erase her account."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import (
    CheckIn,
    Message,
    PrivateMessage,
    PrivateNotice,
    SupportRequest,
)
from groups.models import (
    AgreementProposal,
    GroupRole,
    MemberDecision,
    Membership,
    MembershipStatus,
    User,
)
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import (
    ApplicationError,
    ValidationFailed,
)
from safeguarding.models import (
    Concern,
    Referral,
)


class EraseRefused(ApplicationError):
    status = 409
    code = "cannot_erase"


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
            "read_what_to_expect_at": stamp(actor.read_what_to_expect_at).isoformat()
            if actor.read_what_to_expect_at
            else None,
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
        # A facilitator's pause or removal of her, and what she was told; the staff-only
        # reason is not part of her own export (issue 16).
        "group_decisions": [
            {
                "group": d.membership.group.name,
                "decision": d.kind,
                "until": stamp(d.until).isoformat() if d.until else None,
                "message_to_you": d.message or None,
                "at": stamp(d.decided_at).isoformat(),
            }
            for d in MemberDecision.objects.filter(membership_id__in=mine)
            .select_related("membership__group")
            .order_by("decided_at", "pk")
        ],
        # Issue 17: referrals to another service proposed to her, with what would be (or was)
        # shared and her answers; who proposed one is not named.
        "referrals": [
            {
                "group": r.group.name,
                "service": r.service_name,
                "organisation": r.organization_name or None,
                "status": r.status,
                "proposed_at": stamp(r.proposed_at).isoformat(),
                "contact_route": r.contact_route if r.share_contact else None,
                "need": r.need if r.share_need else None,
                "need_words": r.need_words if r.share_need else None,
                "agreed_at": stamp(r.consented_at).isoformat() if r.consented_at else None,
                "declined_at": stamp(r.declined_at).isoformat() if r.declined_at else None,
                "withdrawn_at": stamp(r.withdrawn_at).isoformat() if r.withdrawn_at else None,
                "pack_passed_on_at": (
                    stamp(r.pack_downloaded_at).isoformat() if r.pack_downloaded_at else None
                ),
            }
            for r in Referral.objects.filter(membership_id__in=mine)
            .select_related("group")
            .order_by("proposed_at", "pk")
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
    requests and check-ins, her private thread, referrals to other services proposed to her)
    is deleted; a notice she sent others as a
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
