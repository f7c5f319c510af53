"""Boundary agreements: publishing a version, accepting it, and members' proposals for it.

Which version is current, and whether a member accepted it, are reads: `groups.selectors`
(`agreement_current`, `agreement_accepted_current`), which the live room's entry asks too.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any, NamedTuple

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
def agreement_publish(*, actor: User, group: Group, points: Any, version: Any = None) -> Agreement:
    """Publish a new version; everyone must accept it again before entering a session that
    has not opened yet (`groups.selectors.agreement_admits`: one already open keeps its own).

    The facilitator who publishes it accepts it by publishing. `version`, when given, is the
    number she confirmed ("Publish version 3"): if another was published meanwhile, 409.
    """
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_PUBLISH, group=group, membership=membership)
    cleaned = _clean_points(points)
    # Lock the group row so two publishers cannot take the same version number.
    Group.objects.select_for_update().filter(pk=group.pk).first()
    latest = agreement_current(group)
    following = (latest.version + 1) if latest else 1
    if version is not None and version != following:
        raise Conflict(
            _("Someone published a new version meanwhile. Please check the changes again."),
            code="not_next_version",
            extra={"next_version": following},
        )
    agreement = Agreement.objects.create(
        group=group,
        version=following,
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


class AgreementChanges(NamedTuple):
    """What one version changes from another: points added, removed, and reworded (old, new)."""

    added: list[str]
    removed: list[str]
    reworded: list[tuple[str, str]]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.reworded)


# How alike two points must be (difflib's ratio) for one to read as the other reworded.
REWORDED_RATIO = 0.5


def agreement_changes(before: list[str], after: list[str]) -> AgreementChanges:
    """Compare two versions' points in order; a point moved elsewhere reads as removed there
    and added here. Computed from the versions themselves: nothing about it is stored."""
    changes = AgreementChanges(added=[], removed=[], reworded=[])
    matcher = SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = before[i1:i2], after[j1:j2]
        if tag == "delete":
            changes.removed.extend(old)
        elif tag == "insert":
            changes.added.extend(new)
        elif tag == "replace":
            for index in range(max(len(old), len(new))):
                was = old[index] if index < len(old) else None
                now = new[index] if index < len(new) else None
                alike = was is not None and now is not None
                if alike and SequenceMatcher(a=was, b=now).ratio() >= REWORDED_RATIO:
                    changes.reworded.append((str(was), str(now)))
                    continue
                if was is not None:
                    changes.removed.append(was)
                if now is not None:
                    changes.added.append(now)
    return changes


class PublishPreview(NamedTuple):
    """What publishing these points would do: the version it becomes and what it changes."""

    version: int
    points: list[str]
    changes: AgreementChanges


def agreement_preview(*, actor: User, group: Group, points: Any) -> PublishPreview:
    """Check points as `agreement_publish` would and say what they change; writes nothing."""
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_PUBLISH, group=group, membership=membership)
    cleaned = _clean_points(points)
    latest = agreement_current(group)
    before = list(latest.points) if latest else []
    return PublishPreview(
        version=(latest.version + 1) if latest else 1,
        points=cleaned,
        changes=agreement_changes(before, cleaned),
    )


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
