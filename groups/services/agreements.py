"""Boundary agreements: publishing a version, accepting it, and members' proposals for it.

Which version is current, and whether a member accepted it, are reads: `groups.selectors`
(`agreement_current`, `agreement_accepted_current`), which the live room's entry asks too.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import (
    Agreement,
    AgreementAcceptance,
    AgreementProposal,
    Group,
    ProposalStatus,
    User,
)
from groups.policies import Action, active_membership, require
from groups.selectors import agreement_current
from groups.services.groups import collect_field
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

AGREEMENT_MAX_POINTS = 30
AGREEMENT_POINT_MAX = 500
PROPOSAL_TEXT_MAX = 1000
PROPOSAL_NOTE_MAX = 500
# A proposal is decided one of these ways; it stays `open` until then.
PROPOSAL_DECISIONS = (ProposalStatus.ADOPTED, ProposalStatus.DECLINED)


def _clean_points(points: Any) -> list[str]:
    if not isinstance(points, list) or not points:
        raise ValidationFailed({"points": [_("Write at least one point.")]})
    if len(points) > AGREEMENT_MAX_POINTS:
        raise ValidationFailed(
            {"points": [_("Use at most %(max)d points.") % {"max": AGREEMENT_MAX_POINTS}]}
        )
    return [
        clean_text(
            point,
            field=f"points.{index}",
            max_length=AGREEMENT_POINT_MAX,
            missing=_("A point cannot be empty."),
        )
        for index, point in enumerate(points)
    ]


@transaction.atomic
def agreement_publish(*, actor: User, group: Group, points: Any) -> Agreement:
    """Publish a new version; everyone must accept it again before entering a session.

    The facilitator who publishes it accepts it by publishing.
    """
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_PUBLISH, group=group, membership=membership)
    cleaned = _clean_points(points)
    # Lock the group row so two publishers cannot take the same version number.
    Group.objects.select_for_update().filter(pk=group.pk).first()
    latest = agreement_current(group)
    agreement = Agreement.objects.create(
        group=group,
        version=(latest.version + 1) if latest else 1,
        points=cleaned,
        published_by=actor,
    )
    if membership is not None:
        AgreementAcceptance.objects.create(membership=membership, agreement=agreement)
    audit_record(
        actor=actor,
        action="agreement.published",
        target=agreement,
        group_id=group.pk,
        extra={"version": agreement.version, "points": len(cleaned)},
    )
    return agreement


@transaction.atomic
def agreement_accept(*, actor: User, group: Group, version: Any) -> Agreement:
    """Accept the current version, named by the number she read (a newer one: 409)."""
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_ACCEPT, group=group, membership=membership)
    if membership is None:  # AGREEMENT_ACCEPT is held only through a membership
        raise NotFound()
    current = agreement_current(group)
    if current is None:
        raise NotFound(_("This group has no agreement yet."), code="no_agreement")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed({"version": [_("Give the version number you read.")]})
    if version != current.version:
        raise Conflict(
            _("The agreement has changed. Please read the current version and accept that."),
            code="not_current_version",
            extra={"current_version": current.version},
        )
    _acceptance, created = AgreementAcceptance.objects.get_or_create(
        membership=membership, agreement=current
    )
    if created:
        audit_record(
            actor=actor,
            action="agreement.accepted",
            target=current,
            group_id=group.pk,
            extra={"version": current.version, "member_id": membership.pk},
        )
    return current


@transaction.atomic
def proposal_create(*, actor: User, group: Group, text: Any) -> AgreementProposal:
    """Suggest a point for the group's agreement; its facilitators decide."""
    membership = active_membership(actor, group)
    require(actor, Action.PROPOSAL_CREATE, group=group, membership=membership)
    cleaned = clean_text(
        text,
        field="text",
        max_length=PROPOSAL_TEXT_MAX,
        missing=_("Write the point you would like added."),
    )
    proposal = AgreementProposal.objects.create(group=group, proposer=membership, text=cleaned)
    audit_record(actor=actor, action="proposal.created", target=proposal, group_id=group.pk)
    return proposal


def _decision(status: Any) -> str:
    if status not in PROPOSAL_DECISIONS:
        raise ValidationFailed({"status": [_("Choose adopted or declined.")]})
    return str(status)


@transaction.atomic
def proposal_decide(
    *, actor: User, group: Group, proposal_id: Any, status: Any, note: Any = ""
) -> AgreementProposal:
    """Adopt or decline a proposal, with an optional note to the member who made it."""
    require(actor, Action.PROPOSAL_REVIEW, group=group)
    proposal = (
        AgreementProposal.objects.select_for_update()
        .filter(group=group, pk=parse_id(proposal_id))
        .first()
    )
    if proposal is None:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    collect_field(errors, data, "status", lambda: _decision(status))
    collect_field(
        errors,
        data,
        "note",
        lambda: clean_text(note, field="note", max_length=PROPOSAL_NOTE_MAX, required=False),
    )
    if errors:
        raise ValidationFailed(errors)
    proposal.status = data["status"]
    proposal.response_note = data["note"]
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "response_note", "decided_at"])
    audit_record(
        actor=actor,
        action="proposal.decided",
        target=proposal,
        group_id=group.pk,
        extra={"status": proposal.status},
    )
    return proposal
