"""Reads for groups, the roster, invites, agreements and (issue 16) who joined lately, the
members paused or removed, one member's record in the group and the decisions she is told
of. Every selector is given the viewer, except the agreement reads that services and the
live room's entry ask about a member (`agreement_current`, `agreement_accepted_current`, and in
issue 16 the door rule `agreement_admits` with its inputs `agreement_facts` and what she last
accepted, `agreement_accepted_version`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from django.db.models import (
    Case,
    Count,
    Max,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import (
    Agreement,
    AgreementAcceptance,
    AgreementProposal,
    Group,
    GroupRole,
    Invite,
    InviteUse,
    MemberDecision,
    MemberDecisionKind,
    Membership,
    MembershipStatus,
    OrgRole,
    ProposalStatus,
    User,
)
from groups.policies import Action, active_membership, can, is_signed_in, require
from project.exceptions import NotFound, parse_id


class GroupView(NamedTuple):
    """A group as one person sees it: with her active membership of it, if she has one."""

    group: Group
    membership: Membership | None


def group_list_for(*, viewer: User) -> QuerySet[Group]:
    """Groups the viewer belongs to; safeguarding leads and admins see every group."""
    if not is_signed_in(viewer):
        return Group.objects.none()
    # Viewing a group without being in it is an org role's power (the policy table's GROUP_VIEW
    # row): who holds it sees every group.
    if can(viewer, Action.GROUP_VIEW):
        return Group.objects.all()
    return Group.objects.filter(
        memberships__user=viewer, memberships__status=MembershipStatus.ACTIVE
    ).distinct()


def group_list_with_membership(*, viewer: User) -> QuerySet[Group]:
    """`group_list_for`, each group carrying the viewer's active membership of it (read it with
    `group_row`): two queries for any page of it, for the REST list and the pages alike."""
    mine = Membership.objects.filter(user_id=viewer.pk, status=MembershipStatus.ACTIVE)
    return group_list_for(viewer=viewer).prefetch_related(
        Prefetch("memberships", queryset=mine, to_attr="viewer_memberships")
    )


def group_row(group: Group) -> GroupView:
    """A group of `group_list_with_membership` with the viewer's membership (None: not in it)."""
    found = getattr(group, "viewer_memberships", None)
    if found is None:
        raise TypeError("group_row reads groups from group_list_with_membership only")
    return GroupView(group=group, membership=found[0] if found else None)


def memberships_by_group(*, viewer: User, group_ids: list[int]) -> dict[int, Membership]:
    """The viewer's active memberships of `group_ids`, by group id."""
    rows = Membership.objects.filter(
        user_id=viewer.pk, group_id__in=group_ids, status=MembershipStatus.ACTIVE
    )
    return {m.group_id: m for m in rows}


def memberships_mine(*, viewer: User) -> QuerySet[Membership]:
    """Her active memberships, with their groups, for her names in Settings (issue 17)."""
    return (
        Membership.objects.filter(user_id=viewer.pk, status=MembershipStatus.ACTIVE)
        .select_related("group")
        .order_by("group__name", "pk")
    )


def group_view(*, viewer: User, group: Group) -> GroupView:
    """One group she may see, with her membership of it (404 for one she may not)."""
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
    """A group's invites, newest first, for those who manage them (never the codes), each
    with who joined with it (`used_by`, newest first, her membership loaded)."""
    require(viewer, Action.INVITE_MANAGE, group=group)
    uses = InviteUse.objects.select_related("membership")
    return Invite.objects.filter(group=group).prefetch_related(Prefetch("used_by", queryset=uses))


def _versions(group: Group | int) -> QuerySet[Agreement]:
    """A group's agreements, newest first: the first is the current one."""
    group_id = group.pk if isinstance(group, Group) else group
    return Agreement.objects.filter(group_id=group_id).order_by("-version")


def agreement_current(group: Group | int) -> Agreement | None:
    """The group's current agreement (its newest version), or None before one is published."""
    return _versions(group).first()


def agreement_accepted_current(member: Membership) -> bool:
    """Has this member accepted her group's current agreement? (The live room asks the same
    in the one read of `facilitation.services.room_enter`.)

    A group with no published agreement has nothing to accept: sessions cannot open then.
    """
    # One query, and the agreement's (encrypted) text is never read: entering a room asks this.
    current = _versions(member.group_id).values("pk")[:1]
    return AgreementAcceptance.objects.filter(
        membership=member, agreement_id=Subquery(current)
    ).exists()


def agreement_accepted_by(*, viewer: User, agreement: Agreement) -> bool:
    """Has the viewer accepted this version (through any membership of hers)?"""
    return AgreementAcceptance.objects.filter(
        agreement=agreement, membership__user_id=viewer.pk
    ).exists()


def agreement_view(*, viewer: User, group: Group) -> tuple[Agreement, bool]:
    """The current agreement and whether the viewer has accepted it."""
    membership = active_membership(viewer, group)
    require(viewer, Action.AGREEMENT_VIEW, group=group, membership=membership)
    current = agreement_current(group)
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


# --- issue 16: joins, pauses and removals, one member's record --------------------------------

# How long a join counts as recent, for "Joined recently" and the count on the groups list.
JOINED_RECENTLY_DAYS = 7
# How long a removed member is shown the facilitators' message on her groups page.
DECISION_NOTICE_DAYS = 30


def joined_recently(*, viewer: User, group: Group) -> QuerySet[InviteUse]:
    """Who joined `group` with an invite in the last JOINED_RECENTLY_DAYS, newest first, for
    those who manage its invites (the invite's staff-only label comes with it)."""
    require(viewer, Action.INVITE_MANAGE, group=group)
    since = timezone.now() - timedelta(days=JOINED_RECENTLY_DAYS)
    return InviteUse.objects.filter(invite__group=group, used_at__gte=since).select_related(
        "membership", "invite"
    )


def joined_recently_counts(*, viewer: User, groups: list[GroupView]) -> dict[int, int]:
    """How many joined lately, by group id, for the groups of the list whose invites the viewer
    manages (the others are left out: a member is not told who joined)."""
    managed = [
        row.group.pk
        for row in groups
        if can(viewer, Action.INVITE_MANAGE, group=row.group, membership=row.membership)
    ]
    if not managed:
        return {}
    since = timezone.now() - timedelta(days=JOINED_RECENTLY_DAYS)
    rows = (
        InviteUse.objects.filter(invite__group_id__in=managed, used_at__gte=since)
        .values("invite__group_id")
        .annotate(n=Count("id"))
    )
    return {row["invite__group_id"]: row["n"] for row in rows}


def members_away(*, viewer: User, group: Group) -> QuerySet[Membership]:
    """The group's paused and removed members, for those who may bring them back."""
    require(viewer, Action.MEMBER_REINSTATE, group=group)
    return Membership.objects.filter(
        group=group, status__in=[MembershipStatus.PAUSED, MembershipStatus.REMOVED]
    ).order_by("display_name_key", "id")


def member_for_history(*, viewer: User, group: Group, member_id: Any) -> Membership:
    """One membership of `group` in any state (active, paused, removed, left), for those who
    may read a member's record; "not found" for anyone else and for any other id."""
    require(viewer, Action.MEMBER_HISTORY, group=group)
    found = Membership.objects.filter(group=group, pk=parse_id(member_id)).first()
    if found is None:
        raise NotFound()
    return found


class MemberRecord(NamedTuple):
    """What the groups app knows of one member: how she came in and what was decided."""

    membership: Membership
    joined_with: InviteUse | None
    decisions: list[MemberDecision]


def member_record(*, viewer: User, membership: Membership) -> MemberRecord:
    """Her join (with the invite's staff-only label) and every pause, removal and
    reinstatement, newest first, with the staff-only reasons: staff eyes only."""
    require(viewer, Action.MEMBER_HISTORY, group=membership.group_id)
    joined = InviteUse.objects.filter(membership=membership).select_related("invite").first()
    decisions = list(
        MemberDecision.objects.filter(membership=membership).select_related("decided_by")
    )
    return MemberRecord(membership=membership, joined_with=joined, decisions=decisions)


class DecisionNotice(NamedTuple):
    """A decision about her she is shown on her groups page: the group, the kind, until when
    and the facilitators' message (never the staff-only reason)."""

    group: Group
    kind: str
    until: Any
    message: str


def decisions_for_me(*, viewer: User) -> list[DecisionNotice]:
    """Her paused memberships (until their date) and her removals of the last
    DECISION_NOTICE_DAYS that came with a message, each with the latest decision."""
    if not is_signed_in(viewer):
        return []
    now = timezone.now()
    since = now - timedelta(days=DECISION_NOTICE_DAYS)
    mine = Membership.objects.filter(
        user_id=viewer.pk, status__in=[MembershipStatus.PAUSED, MembershipStatus.REMOVED]
    ).select_related("group")
    notices = []
    for membership in mine:
        if membership.status == MembershipStatus.PAUSED and active_membership(
            viewer, membership.group_id
        ):
            continue  # the pause has just ended
        latest = MemberDecision.objects.filter(
            membership=membership,
            kind__in=[MemberDecisionKind.PAUSED, MemberDecisionKind.REMOVED],
        ).first()
        if latest is None:
            continue
        if latest.kind == MemberDecisionKind.REMOVED and (
            not latest.message or latest.decided_at < since
        ):
            continue
        notices.append(
            DecisionNotice(
                group=membership.group,
                kind=latest.kind,
                until=membership.paused_until,
                message=latest.message,
            )
        )
    return notices


def staff_list(*, viewer: User) -> QuerySet[User]:
    """The organisation's staff accounts, for its admins (`Action.STAFF_MANAGE`): those
    switched on first, then by role and username."""
    require(viewer, Action.STAFF_MANAGE)
    return (
        User.objects.exclude(org_role=OrgRole.NONE)
        .order_by("-is_active", "org_role", "username")
        .only("pk", "username", "org_role", "is_active", "last_login")
    )


def facilitators_by_group(*, viewer: User) -> dict[int, list[User]]:
    """Each group's active facilitators (staff accounts, named by username), for the
    dashboard (`Action.DASHBOARD_VIEW`): who carries which group. Members are never listed."""
    require(viewer, Action.DASHBOARD_VIEW)
    rows = (
        Membership.objects.filter(
            role=GroupRole.FACILITATOR, status=MembershipStatus.ACTIVE, user__is_active=True
        )
        .select_related("user")
        .order_by("user__username")
    )
    found: dict[int, list[User]] = {}
    for row in rows:
        found.setdefault(row.group_id, []).append(row.user)
    return found


# --- issue 16: agreements that do not lock people out mid-session ----------------------------


def agreement_admits(*, accepted: int | None, current: int | None, at_opening: int | None) -> bool:
    """THE agreement rule at a session's door, for the room, its log over REST and the group
    page's "Enter the room" alike; `facilitation.sql.room()["enter"]` only gathers its inputs.

    A session that has opened holds everyone to the version that was current when it opened
    (`at_opening`): a version published later never applies to it. A session not yet open
    holds them to the current version. Accepting that version or a newer one admits her (she
    can only ever accept the current one); a group with no agreement has nothing to accept.
    `accepted` is the newest version she accepted (None: none).
    """
    binding = at_opening if at_opening is not None else current
    return binding is None or (accepted is not None and accepted >= binding)


class AgreementFacts(NamedTuple):
    """The inputs of `agreement_admits` for one member, for any of her group's sessions:
    the group's versions with when each was published (newest first), and her newest."""

    versions: list[tuple[int, Any]]
    accepted: int | None

    def admits(self, opened_at: Any) -> bool:
        """May she enter a session that opened at `opened_at` (None: not yet open)?"""
        current = self.versions[0][0] if self.versions else None
        at_opening = None
        if opened_at is not None:
            at_opening = next((v for v, at in self.versions if at <= opened_at), None)
        return agreement_admits(accepted=self.accepted, current=current, at_opening=at_opening)


def agreement_facts(member: Membership) -> AgreementFacts:
    """Two small reads (never the agreements' encrypted text) for `AgreementFacts.admits`."""
    versions = list(_versions(member.group_id).values_list("version", "published_at"))
    newest = AgreementAcceptance.objects.filter(membership=member).aggregate(
        v=Max("agreement__version")
    )["v"]
    return AgreementFacts(versions=versions, accepted=newest)


def agreement_accepted_version(member: Membership) -> Agreement | None:
    """The newest version she accepted (None: none), to show her what changed since."""
    return Agreement.objects.filter(acceptances__membership=member).order_by("-version").first()


def _adopted_since_current(group: Group) -> tuple[Agreement | None, QuerySet[AgreementProposal]]:
    """The current version, and the points adopted since it was published (oldest first)."""
    current = agreement_current(group)
    adopted = AgreementProposal.objects.filter(group=group, status=ProposalStatus.ADOPTED)
    if current is not None:
        adopted = adopted.filter(decided_at__gt=current.published_at)
    return current, adopted.order_by("decided_at", "id")


def agreement_draft(*, viewer: User, group: Group) -> list[str]:
    """The next version as far as it is decided: the current points, then every point adopted
    since the current version was published (oldest first), for those who publish."""
    require(viewer, Action.AGREEMENT_PUBLISH, group=group)
    current, adopted = _adopted_since_current(group)
    points = list(current.points) if current is not None else []
    for proposal in adopted:
        if proposal.text not in points:
            points.append(proposal.text)
    return points


def agreement_drafted(*, viewer: User, group: Group) -> set[int]:
    """The ids of the proposals `agreement_draft` holds, to say so next to each."""
    require(viewer, Action.AGREEMENT_PUBLISH, group=group)
    return set(_adopted_since_current(group)[1].values_list("pk", flat=True))
