"""Reads for groups, the roster and invites. Every selector is given the viewer."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, QuerySet, Value, When

from groups.models import Group, GroupRole, Invite, Membership, MembershipStatus, OrgRole, User
from groups.policies import Action, active_membership, is_signed_in, require


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
