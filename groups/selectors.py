"""Reads for groups, the roster and invites. Every selector is given the viewer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, OuterRef, QuerySet, Subquery, Value, When
from django.utils.translation import gettext as _

from groups.models import (
    Agreement,
    AgreementAcceptance,
    AgreementProposal,
    Group,
    GroupRole,
    Invite,
    Membership,
    MembershipStatus,
    OrgRole,
    User,
)
from groups.policies import Action, active_membership, can, is_signed_in, require
from project.exceptions import NotFound


@dataclass(frozen=True)
class GroupView:
    group: Group
    membership: Membership | None


def group_list_for(*, viewer: User) -> QuerySet[Group]:
    """Groups the viewer belongs to; safeguarding leads and admins see every group."""
    if not is_signed_in(viewer):
        return Group.objects.none()
    if viewer.org_role in {OrgRole.SAFEGUARDING_LEAD, OrgRole.ADMIN}:
        return Group.objects.all()
    return Group.objects.filter(
        memberships__user=viewer, memberships__status=MembershipStatus.ACTIVE
    ).distinct()


def memberships_by_group(*, viewer: User, group_ids: list[int]) -> dict[int, Membership]:
    rows = Membership.objects.filter(
        user_id=viewer.pk, group_id__in=group_ids, status=MembershipStatus.ACTIVE
    )
    return {m.group_id: m for m in rows}


def group_view(*, viewer: User, group: Group) -> GroupView:
    require(viewer, Action.GROUP_VIEW, group=group)
    return GroupView(group=group, membership=active_membership(viewer, group))


def roster_list(*, viewer: User, group: Group) -> QuerySet[Membership]:
    """The active members of a group: member id, pseudonym and role, never the account."""
    require(viewer, Action.ROSTER_VIEW, group=group)
    rank = Case(
        When(role=GroupRole.FACILITATOR, then=Value(0)),
        When(role=GroupRole.PEER_MENTOR, then=Value(1)),
        default=Value(2),
    )
    return (
        Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE)
        .annotate(rank=rank)
        .order_by("rank", "display_name_key", "id")
    )


def invite_list(*, viewer: User, group: Group) -> QuerySet[Invite]:
    require(viewer, Action.INVITE_MANAGE, group=group)
    return Invite.objects.filter(group=group)


def agreement_view(*, viewer: User, group: Group) -> tuple[Agreement, bool]:
    """The current agreement and whether the viewer has accepted it."""
    membership = active_membership(viewer, group)
    require(viewer, Action.AGREEMENT_VIEW, group=group, membership=membership)
    current = Agreement.objects.filter(group=group).order_by("-version").first()
    if current is None:
        raise NotFound(_("This group has no agreement yet."), code="no_agreement")
    accepted = membership is not None and (
        AgreementAcceptance.objects.filter(membership=membership, agreement=current).exists()
    )
    return current, accepted


def acceptance_list(*, viewer: User, group: Group) -> list[dict[str, Any]]:
    """Each active member with the newest agreement version she accepted (or None)."""
    require(viewer, Action.ACCEPTANCES_VIEW, group=group)
    latest = (
        AgreementAcceptance.objects.filter(membership=OuterRef("pk"))
        .order_by("-agreement__version")
        .values("agreement__version")[:1]
    )
    members = roster_list(viewer=viewer, group=group).annotate(accepted_version=Subquery(latest))
    return [
        {"member_id": m.pk, "display_name": m.display_name, "accepted_version": m.accepted_version}
        for m in members
    ]


def proposal_list(*, viewer: User, group: Group) -> QuerySet[AgreementProposal]:
    """Facilitators see every proposal; anyone else in the group sees her own."""
    membership = active_membership(viewer, group)
    proposals = AgreementProposal.objects.filter(group=group).select_related("proposer")
    if can(viewer, Action.PROPOSAL_REVIEW, group=group, membership=membership):
        return proposals
    require(viewer, Action.PROPOSAL_CREATE, group=group, membership=membership)
    return proposals.filter(proposer=membership)
