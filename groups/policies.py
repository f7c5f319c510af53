"""Who may do what: the one place Haven decides access (ARCHITECTURE.md rule 2).

`ROLE_ACTIONS` is the table; `can()` answers it, `require()` raises on a refusal and
`group_for()` fetches a group and authorises in one step, answering "not found" both for a
group that does not exist and for one the actor may not see. The DRF permission class in
`groups.permissions`, the live-room consumer and every service ask this module. Concerns have
their own rule, in all its forms, in `safeguarding.policies` (it builds on the helpers here).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import Group, GroupRole, Membership, MembershipStatus, OrgRole
from project.audit import audit_record
from project.exceptions import Forbidden, NotFound, parse_id


class Role(StrEnum):
    """Every role a principal can hold for one decision."""

    FACILITATOR = GroupRole.FACILITATOR.value
    PEER_MENTOR = GroupRole.PEER_MENTOR.value
    MEMBER = GroupRole.MEMBER.value
    ORG_FACILITATOR = "org:facilitator"
    ORG_SAFEGUARDING_LEAD = "org:safeguarding_lead"
    ORG_ADMIN = "org:admin"
    # A peer mentor named co-host of the session being decided on.
    CO_HOST = "session:co_host"
    # That co-host while no facilitator is in the session's room: she holds the room alone.
    CO_HOST_ALONE = "session:co_host_alone"


class Action(StrEnum):
    GROUP_CREATE = "group.create"
    GROUP_VIEW = "group.view"
    GROUP_UPDATE = "group.update"
    ROSTER_VIEW = "roster.view"
    MEMBER_CHANGE_ROLE = "member.change_role"
    MEMBER_REMOVE = "member.remove"
    MEMBER_LEAVE = "member.leave"
    INVITE_MANAGE = "invite.manage"
    AGREEMENT_VIEW = "agreement.view"
    AGREEMENT_PUBLISH = "agreement.publish"
    AGREEMENT_ACCEPT = "agreement.accept"
    ACCEPTANCES_VIEW = "agreement.acceptances_view"
    PROPOSAL_CREATE = "proposal.create"
    PROPOSAL_REVIEW = "proposal.review"
    SESSION_CREATE = "session.create"
    SESSION_VIEW = "session.view"
    SESSION_UPDATE = "session.update"
    # Host powers in one session: read and edit its plan, attendance, open/live/pause.
    SESSION_HOST = "session.host"
    SESSION_END = "session.end"
    CONCERN_RAISE = "concern.raise"
    # "I need support": from the room or the group's page; she reads her own requests.
    SUPPORT_REQUEST = "support.request"
    # Read every open request of the group and answer them (seen, taken, closed); a co-host
    # does so in her session's room.
    SUPPORT_MANAGE = "support.manage"
    # Say privately how she is on arriving and leaving a session.
    CHECKIN_ANSWER = "checkin.answer"
    # Read every check-in of a session with its note (a co-host reads them in her room, the
    # note only when she chose to share it with peer mentors).
    CHECKIN_READ = "checkin.read"
    # Write in, and read, her own private thread with the group's hosts.
    PRIVATE_OWN = "private.own"
    # Read and answer any member's private thread: facilitators; a co-host in her session's
    # room only (the thread is not hers to read outside it).
    PRIVATE_HOST = "private.host"
    AUDIT_VIEW = "audit.view"
    # Issue 16, the lead's view: add staff, change their role, switch an account off or on.
    STAFF_MANAGE = "staff.manage"
    # Issue 16, the lead's view: every group at a glance (concern counts, the week's sessions
    # and whether a host is in, facilitator load); no text, no member's name.
    DASHBOARD_VIEW = "dashboard.view"
    # Issue 16, afterwards: a session summary's register (who came, left early, stepped out,
    # asked for support; never who passed), its follow-up ticks, its debrief notes (read,
    # write), the handover note for the next facilitator, the past sessions list, and "I
    # would like to talk to someone" after a hard session.
    REGISTER_VIEW = "session.register_view"
    FOLLOW_UP_MANAGE = "session.follow_up"
    DEBRIEF_READ = "debrief.read"
    DEBRIEF_WRITE = "debrief.write"
    PAST_SESSIONS_VIEW = "session.past_view"
    TALK_REQUEST = "talk.request"
    # Issue 16: bring back a paused or removed member; read one member's history in the group.
    MEMBER_REINSTATE = "member.reinstate"
    MEMBER_HISTORY = "member.history"
    # Issue 17: a one-time password reset code for a member of the group (her facilitators, admins).
    MEMBER_RESET_CODE = "member.reset_code"
    # Issue 17: change her own name in the group (unique in it, as when joining).
    MEMBER_RENAME_SELF = "member.rename_self"
    # Issue 17, referral with consent: propose that a member be passed on to a service of the
    # help directory (and follow its status, never its text); answer a referral (agree, change
    # her part), which `safeguarding.policies` allows only to the member it concerns; read the
    # pack to pass on, only once she agreed and while her consent stands.
    REFERRAL_PROPOSE = "referral.propose"
    REFERRAL_RESPOND = "referral.respond"
    REFERRAL_PACK = "referral.pack"
    # Issue 19: edit the content-warning taxonomy (words, order, her own categories, retiring
    # one) in the admin, through `facilitation.services.content_warning_*`.
    TAXONOMY_EDIT = "taxonomy.edit"


R = Role
IN_GROUP = frozenset({R.FACILITATOR, R.PEER_MENTOR, R.MEMBER})

# Org admins hold a facilitator's powers in every group (a group must never be left without
# someone who can manage it); safeguarding leads see that groups exist, not who is in them.
ROLE_ACTIONS: dict[Action, frozenset[Role]] = {
    Action.GROUP_CREATE: frozenset({R.ORG_FACILITATOR, R.ORG_ADMIN}),
    Action.GROUP_VIEW: IN_GROUP | {R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN},
    Action.GROUP_UPDATE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.ROSTER_VIEW: IN_GROUP | {R.ORG_ADMIN},
    Action.MEMBER_CHANGE_ROLE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.MEMBER_REMOVE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.MEMBER_LEAVE: IN_GROUP,
    Action.INVITE_MANAGE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.AGREEMENT_VIEW: IN_GROUP | {R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN},
    Action.AGREEMENT_PUBLISH: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.AGREEMENT_ACCEPT: IN_GROUP,
    Action.ACCEPTANCES_VIEW: frozenset({R.FACILITATOR, R.PEER_MENTOR, R.ORG_ADMIN}),
    Action.PROPOSAL_CREATE: IN_GROUP,
    Action.PROPOSAL_REVIEW: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.SESSION_CREATE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.SESSION_VIEW: IN_GROUP | {R.ORG_ADMIN},
    Action.SESSION_UPDATE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.SESSION_HOST: frozenset({R.FACILITATOR, R.CO_HOST, R.ORG_ADMIN}),
    # A co-host may end the session while no facilitator is in its room (the facilitator's
    # connection dropped): otherwise a room could be left open with nobody able to close it.
    Action.SESSION_END: frozenset({R.FACILITATOR, R.CO_HOST_ALONE, R.ORG_ADMIN}),
    Action.CONCERN_RAISE: IN_GROUP,
    Action.SUPPORT_REQUEST: IN_GROUP,
    Action.SUPPORT_MANAGE: frozenset({R.FACILITATOR, R.CO_HOST, R.ORG_ADMIN}),
    Action.CHECKIN_ANSWER: IN_GROUP,
    Action.CHECKIN_READ: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.PRIVATE_OWN: IN_GROUP,
    Action.PRIVATE_HOST: frozenset({R.FACILITATOR, R.CO_HOST, R.ORG_ADMIN}),
    Action.AUDIT_VIEW: frozenset({R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN}),
    Action.STAFF_MANAGE: frozenset({R.ORG_ADMIN}),
    Action.TAXONOMY_EDIT: frozenset({R.ORG_ADMIN}),
    Action.DASHBOARD_VIEW: frozenset({R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN}),
    # Issue 16, afterwards. A co-host reads the register of the session she co-hosted (she saw
    # it live) but not the follow-ups (they come from check-ins, CHECKIN_READ) nor debriefs.
    # The safeguarding leads read debriefs and handovers (and the past sessions that lead to
    # them), never the register: who is in a group is not theirs to see (ROSTER_VIEW).
    Action.REGISTER_VIEW: frozenset({R.FACILITATOR, R.CO_HOST, R.ORG_ADMIN}),
    Action.FOLLOW_UP_MANAGE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.DEBRIEF_READ: frozenset({R.FACILITATOR, R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN}),
    Action.DEBRIEF_WRITE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.PAST_SESSIONS_VIEW: frozenset({R.FACILITATOR, R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN}),
    Action.TALK_REQUEST: frozenset({R.FACILITATOR, R.CO_HOST, R.ORG_ADMIN}),
    Action.MEMBER_REINSTATE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    # Peer mentors are members too: another member's record is not theirs to read.
    Action.MEMBER_HISTORY: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.MEMBER_RESET_CODE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.MEMBER_RENAME_SELF: IN_GROUP,
    # Issue 17: the group's facilitators propose; the safeguarding leads read a pack she agreed
    # to (they do not see who is in a group otherwise); her own answer needs her in the group.
    Action.REFERRAL_PROPOSE: frozenset({R.FACILITATOR, R.ORG_ADMIN}),
    Action.REFERRAL_RESPOND: IN_GROUP,
    Action.REFERRAL_PACK: frozenset({R.FACILITATOR, R.ORG_SAFEGUARDING_LEAD, R.ORG_ADMIN}),
}


ORG_ROLE_TO_ROLE: dict[str, Role] = {
    OrgRole.FACILITATOR: R.ORG_FACILITATOR,
    OrgRole.SAFEGUARDING_LEAD: R.ORG_SAFEGUARDING_LEAD,
    OrgRole.ADMIN: R.ORG_ADMIN,
}


# The org roles of staff accounts: made on the command line only, and signed in with a second
# factor (groups/services/second_factor.py).
STAFF_ROLES = (OrgRole.FACILITATOR, OrgRole.SAFEGUARDING_LEAD, OrgRole.ADMIN)


def needs_second_factor(user: Any) -> bool:
    """Staff sign in with a password and a code; members with a password only."""
    return getattr(user, "org_role", None) in STAFF_ROLES


def second_factor_owed(user: Any) -> bool:
    """A staff account signed in through a browser session that has not given its code yet.

    Sessions carry django-otp's `is_verified` (OTPMiddleware on pages and REST, the socket's
    session middleware); an account loaded any other way (a token, which staff only get with a
    code; a service's own query) carries none and owes nothing here.
    """
    verified = getattr(user, "is_verified", None)
    return needs_second_factor(user) and verified is not None and not verified()


def is_signed_in(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not second_factor_owed(user)
    )


def active_membership(user: Any, group: Group | int) -> Membership | None:
    """The actor's active membership of `group`, or None.

    A paused membership is not active until its `paused_until`; the first time anything asks
    after that moment (a page, a REST call, the room page before its socket), the pause lifts
    here (`pause_lift`), the one place that decides it (issue 16).
    """
    if not is_signed_in(user):
        return None
    group_id = group.pk if isinstance(group, Group) else group
    found = (
        Membership.objects.filter(
            group_id=group_id,
            user_id=user.pk,
            status__in=[MembershipStatus.ACTIVE, MembershipStatus.PAUSED],
        )
        .select_related("group")
        .first()
    )
    if found is None or found.status == MembershipStatus.ACTIVE:
        return found
    return pause_lift(found)


def pause_over(membership: Membership, *, now: Any = None) -> bool:
    """Has this paused membership's pause run out?"""
    moment = now or timezone.now()
    return membership.paused_until is None or membership.paused_until <= moment


def pause_lift(membership: Membership) -> Membership | None:
    """Make a paused membership active again once its date has passed (None while it holds).

    One conditional UPDATE, so two requests at once lift it once; audited as the system's act.
    """
    if not pause_over(membership):
        return None
    lifted = Membership.objects.filter(
        pk=membership.pk, status=MembershipStatus.PAUSED, paused_until=membership.paused_until
    ).update(status=MembershipStatus.ACTIVE, paused_until=None, ended_at=None)
    if lifted:
        audit_record(
            actor=None,
            action="member.pause_ended",
            target=membership,
            group_id=membership.group_id,
        )
    membership.status, membership.paused_until = MembershipStatus.ACTIVE, None
    membership.ended_at = None
    return membership


def roles_of(
    user: Any,
    *,
    membership: Membership | None = None,
    session: Any = None,
    facilitator_present: bool | None = None,
) -> frozenset[Role]:
    """The roles `user` holds: her org role, her role in the group of `membership`, and
    co-host of `session` when she is a peer mentor the session names as co-host; co-host
    alone too when the caller has looked and no facilitator is in the session's room
    (`facilitator_present` False; None: not known, so not alone)."""
    if not is_signed_in(user):
        return frozenset()
    roles: set[Role] = set()
    org_role = ORG_ROLE_TO_ROLE.get(user.org_role)
    if org_role is not None:
        roles.add(org_role)
    if membership is not None and membership.is_active and membership.user_id == user.pk:
        roles.add(Role(membership.role))
        if (
            session is not None
            and membership.role == GroupRole.PEER_MENTOR
            and session.group_id == membership.group_id
            and session.is_co_host(membership)
        ):
            roles.add(R.CO_HOST)
            if facilitator_present is False:
                roles.add(R.CO_HOST_ALONE)
    return frozenset(roles)


def can(
    user: Any,
    action: Action,
    *,
    group: Group | int | None = None,
    membership: Membership | None = None,
    session: Any = None,
    facilitator_present: bool | None = None,
) -> bool:
    """May `user` do `action` (in `group`, or in `session` of its group)?

    `facilitator_present`: whether a facilitator is in the session's room, for the rules that
    depend on it (see `roles_of`). Deny by default: unknown actions, anonymous and deactivated
    accounts are refused.
    """
    allowed = ROLE_ACTIONS.get(action)
    if allowed is None or not is_signed_in(user):
        return False
    if session is not None and group is None:
        group = session.group_id
    if membership is None and group is not None:
        membership = active_membership(user, group)
    roles = roles_of(
        user, membership=membership, session=session, facilitator_present=facilitator_present
    )
    return bool(allowed & roles)


def require(
    user: Any,
    action: Action,
    *,
    group: Group | int | None = None,
    membership: Membership | None = None,
    session: Any = None,
    visible: Action = Action.GROUP_VIEW,
    facilitator_present: bool | None = None,
) -> None:
    """Raise unless `user` may do `action`.

    404 when she may not even see the thing (`visible`: by default the group), else 403.
    """
    if session is not None and group is None:
        group = session.group_id
    if membership is None and group is not None:
        membership = active_membership(user, group)
    if can(
        user,
        action,
        group=group,
        membership=membership,
        session=session,
        facilitator_present=facilitator_present,
    ):
        return
    if group is not None and not can(
        user, visible, group=group, membership=membership, session=session
    ):
        raise NotFound()
    raise Forbidden(_("Your role in this group does not allow that."))


def group_for(
    user: Any,
    group_id: Any,
    action: Action = Action.GROUP_VIEW,
    *,
    visible: Action = Action.GROUP_VIEW,
) -> Group:
    """Fetch a group and authorise `action` on it in one step.

    A group that does not exist and one the actor may not see both answer `NotFound`, so no
    caller can learn that a group exists by probing ids. `visible` as for `require`.
    """
    group = Group.objects.filter(pk=parse_id(group_id)).first()
    if group is None:
        raise NotFound()
    require(user, action, group=group, visible=visible)
    return group
