"""Who may see a concern, in all three of its forms, and who may move it.

Wagtail keeps the forms of one permission on one policy object; Haven keeps the forms of the
concern rule in this one file, so "who sees a concern?" has one answer:

- `concern_role(user, concern)`: may she see this one, and as what (None: she may not);
- `concerns_visible_to(viewer)`: the queryset of every concern she may see;
- `concern_handler_groups(concern)`: the private channel groups of everyone who handles it
  now, the recipients of its alerts (ARCHITECTURE.md rule 5).

The audit log's entries about a concern follow the second form (`concern_entries_visible_to`):
who may not see a concern may not read who raised it, read it or moved it either.

The rules are written once, as data (`LEAD`, `LEADS_ONLY`, `LEADS_WHEN`, `GROUP_HANDLERS`),
which the one-concern form reads in Python (`_holds`) and the other two as `Q` objects of the
same lookups; the member a concern is about is left out by each form in its own terms (her
membership, `about_id`). tests/safeguarding/test_policies.py checks that the forms agree for
every persona and every shape of concern. `concern_for` fetches and authorises in one step,
with the rule of the second form in the query itself: a concern she may not see answers "not
found" exactly like one that does not exist, after the same statements and the same work
(tests/security/test_concern_timing.py). `concern_moves` says where a concern's status may go,
and who may move it.

Referrals (issue 17) have their rule here too, at the end: `referral_role` (who she is to one
referral), `referrals_of_subject` (the ones she may read as the woman they concern) and
`referral_for` (fetch and authorise in one step).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import reduce
from operator import or_
from typing import Any, Final

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from groups.models import GroupRole, Membership, MembershipStatus, OrgRole, User
from groups.policies import Action, active_membership, can, is_signed_in
from project import realtime
from project.exceptions import NotFound, parse_id
from safeguarding.models import Category, Concern, ConcernStatus, Referral, ReferralStatus


class ConcernRole(StrEnum):
    """How someone stands to one concern. Anyone without one gets 404 for it."""

    REPORTER = "reporter"
    HANDLER = "handler"  # may reply and move its status
    PEER_HANDLER = "peer_handler"  # a peer mentor she chose to share with: may read and reply


# --- the rules, each written once ------------------------------------------------------------

# The org role that handles concerns beyond any one group.
LEAD: Final = OrgRole.SAFEGUARDING_LEAD

# A concern about how the group is run goes to the safeguarding leads alone: the group's own
# hosts never see it, whatever else holds.
LEADS_ONLY: Final[Mapping[str, Any]] = {"category": Category.FACILITATION}

# The group roles that handle a concern in their group, as what, and on which condition of the
# concern: facilitators always, peer mentors when the reporter chose to share with them.
GROUP_HANDLERS: Final[tuple[tuple[str, ConcernRole, Mapping[str, Any]], ...]] = (
    (GroupRole.FACILITATOR, ConcernRole.HANDLER, {}),
    (GroupRole.PEER_MENTOR, ConcernRole.PEER_HANDLER, {"share_with_peer_mentors": True}),
)

# A concern about one of the people who would handle it goes to the leads from the start.
HOST_ROLES: Final = frozenset(role for role, _as, _when in GROUP_HANDLERS)

# Safeguarding leads handle a concern once it is escalated, or from the start (any of these).
LEADS_WHEN: Final[tuple[Mapping[str, Any], ...]] = (
    {"escalated_at__isnull": False},
    {"leads_from_start": True},
)

# The only moves a concern's status may make; only a HANDLER makes them (peer mentors read and
# reply, they do not move a concern).
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    # Straight to the leads from Received too: a handler who sees at once that it is beyond her
    # should not have to acknowledge it first (issue 16), and Haven escalates one nobody
    # acknowledged in time the same way (`services.concerns_escalate_overdue`).
    ConcernStatus.RECEIVED: frozenset({ConcernStatus.ACKNOWLEDGED, ConcernStatus.ESCALATED}),
    ConcernStatus.ACKNOWLEDGED: frozenset({ConcernStatus.ACTION_TAKEN, ConcernStatus.ESCALATED}),
    ConcernStatus.ESCALATED: frozenset({ConcernStatus.ACTION_TAKEN, ConcernStatus.CLOSED}),
    ConcernStatus.ACTION_TAKEN: frozenset({ConcernStatus.CLOSED}),
    ConcernStatus.CLOSED: frozenset(),
}
MOVERS: Final = frozenset({ConcernRole.HANDLER})

# Who may say "I will take it" and own a concern: those who may move it.
TAKERS: Final = MOVERS

# Who reads and writes the staff-only notes on a concern: those who may move it. Never the
# woman who raised it, and not a peer mentor she shared it with (she is a member too).
NOTE_WRITERS: Final = MOVERS

# Who reads the messages a concern refers to, with the text retention or an erasure would have
# removed while the concern held it: those who handle it. The woman who raised it knows what she
# referred to; the member it is about never sees the concern at all.
READS_MESSAGES: Final = frozenset({ConcernRole.HANDLER, ConcernRole.PEER_HANDLER})


def _holds(concern: Concern, lookups: Mapping[str, Any]) -> bool:
    """The Python reading of `Q(**lookups)` for one concern (exact values and `__isnull`)."""
    for lookup, wanted in lookups.items():
        field, _sep, operator = lookup.partition("__")
        value = getattr(concern, field)
        if operator == "isnull":
            if (value is None) is not wanted:
                return False
        elif operator:
            raise ValueError(f"unsupported lookup {lookup!r}")
        elif value != wanted:
            return False
    return True


def leads_handle(concern: Concern) -> bool:
    """Do the safeguarding leads handle `concern` now?"""
    return any(_holds(concern, lookups) for lookups in LEADS_WHEN)


def group_role_handles(concern: Concern, role: str) -> ConcernRole | None:
    """What a member of the concern's group with `role` is to it as one of its hosts, or None."""
    if _holds(concern, LEADS_ONLY):
        return None
    for handler_role, stands_as, when in GROUP_HANDLERS:
        if role == handler_role and _holds(concern, when):
            return stands_as
    return None


def leads_from_start(concern: Concern) -> bool:
    """Does a concern being raised go to the leads at once? About a host, or leads-only."""
    about = concern.about
    return _holds(concern, LEADS_ONLY) or (about is not None and about.role in HOST_ROLES)


def is_reporter(user: Any, concern: Concern) -> bool:
    """Did `user` raise `concern`? She keeps hearing back even after leaving the group."""
    return concern.reporter_id is not None and concern.reporter.user_id == user.pk


# --- form 1: one concern, one person ---------------------------------------------------------


def concern_role(
    user: Any, concern: Concern, *, membership: Membership | None = None
) -> ConcernRole | None:
    """Who `user` is to `concern`, or None when she may not see it.

    The member a concern is about never sees it, whatever her role. She who raised it does.
    The group's facilitators handle it, with its peer mentors when the reporter chose to share;
    the safeguarding leads once it is escalated, or from the start when it is about a host or
    about how the group is run (then the group's own hosts do not see it at all).
    """
    if not is_signed_in(user):
        return None
    if membership is None:
        membership = active_membership(user, concern.group_id)
    return _role_as(user, concern, membership)


def _role_as(user: Any, concern: Concern, membership: Membership | None) -> ConcernRole | None:
    """`concern_role` for a signed-in `user` whose active membership of the concern's group
    (or None) is already known."""
    if membership is not None and concern.about_id == membership.pk:
        return None
    if is_reporter(user, concern):
        return ConcernRole.REPORTER
    if user.org_role == LEAD and leads_handle(concern):
        return ConcernRole.HANDLER
    if membership is None:
        return None
    return group_role_handles(concern, membership.role)


def concern_for(*, actor: Any, concern_id: Any, lock: bool = False) -> tuple[Concern, ConcernRole]:
    """Fetch a concern and the actor's role to it; `NotFound` for one she may not see, exactly
    as for one that does not exist. `lock` takes the row for an update.

    Whether she may see it is decided in the query (the rule of `concerns_visible_to`, on the
    concern's own columns), never fetched first and checked after: every id she may not see
    runs the same two statements and meets no row, whether the concern is about her, someone
    else's or missing. Fetch-then-check answered sooner for some of these than for others, and
    so told a member which concerns are about her (issue 13). Only a visible concern goes on to
    her role, in Python, from the memberships already read.
    """
    pk = parse_id(concern_id)
    if not is_signed_in(actor):
        raise NotFound()
    memberships = _memberships_of(actor)
    rows = Concern.objects.select_related("reporter", "about", "group").filter(
        _visible(actor, memberships), pk=pk
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    concern = rows.first()
    if concern is None:
        raise NotFound()
    mine = next((m for m in memberships if m.group_id == concern.group_id and m.is_active), None)
    role = _role_as(actor, concern, mine)
    if role is None:  # the forms agree (test_policies); refuse rather than trust one alone
        raise NotFound()
    return concern, role


def concern_roles(user: Any, concerns: list[Concern]) -> dict[int, ConcernRole | None]:
    """`concern_role` for many concerns at once, from one read of her memberships."""
    if not is_signed_in(user) or not concerns:
        return {}
    active = {m.group_id: m for m in _memberships_of(user) if m.is_active}
    return {c.pk: _role_as(user, c, active.get(c.group_id)) for c in concerns}


def concern_moves(concern: Concern, role: ConcernRole) -> frozenset[str]:
    """The statuses someone standing as `role` may move `concern` to (none unless a mover)."""
    return TRANSITIONS[concern.status] if role in MOVERS else frozenset()


# --- form 2: every concern one person may see ------------------------------------------------


def _memberships_of(viewer: Any) -> list[Membership]:
    """Every membership `viewer` has, in any status: one statement, whatever she asks for."""
    return list(
        Membership.objects.filter(user_id=viewer.pk).only("pk", "group_id", "role", "status")
    )


def _visible(viewer: Any, memberships: list[Membership]) -> Q:
    """The concerns a signed-in `viewer` with `memberships` may see, as one `Q` on the
    concern's own columns: no join, so the database does the same work for every row it
    rejects (`concern_for`)."""
    active = [m for m in memberships if m.is_active]
    # She raised it: any of her memberships, as `is_reporter` (a woman who left still hears).
    visible = Q(reporter_id__in=[m.pk for m in memberships])
    if viewer.org_role == LEAD:
        visible |= reduce(or_, (Q(**lookups) for lookups in LEADS_WHEN))
    hosting = [
        Q(group_id__in=groups, **when)
        for handler_role, _as, when in GROUP_HANDLERS
        if (groups := [m.group_id for m in active if m.role == handler_role])
    ]
    if hosting:
        visible |= reduce(or_, hosting) & ~Q(**LEADS_ONLY)
    return visible & ~Q(about_id__in=[m.pk for m in active])


def concerns_visible_to(viewer: Any) -> QuerySet[Concern]:
    """Every concern `viewer` may see: those she raised and those she handles."""
    if not is_signed_in(viewer):
        return Concern.objects.none()
    return Concern.objects.filter(_visible(viewer, _memberships_of(viewer)))


def concerns_handled_by(viewer: Any) -> QuerySet[Concern]:
    """Every concern `viewer` handles: those she may see, less those she raised herself."""
    if not is_signed_in(viewer):
        return Concern.objects.none()
    memberships = _memberships_of(viewer)
    return Concern.objects.filter(_visible(viewer, memberships)).exclude(
        reporter_id__in=[m.pk for m in memberships]
    )


# The audit log's entries about concerns: those whose target is a concern (`audit_record` names
# the target by its model) and every `concern.*` action.
CONCERN_TARGET: Final = Concern._meta.model_name
CONCERN_ACTIONS: Final = "concern."


def concern_entries_visible_to(viewer: Any) -> Q:
    """The audit entries `viewer` may read as far as concerns go, as a `Q` on the audit log.

    An entry about a concern is hers to read only when she may see that concern; otherwise
    it is left out as if it did not exist (its `actor_id` would name the woman who raised the
    concern, to the member it is about). Entries about anything else are not this rule's.
    """
    about_concerns = Q(target_type=CONCERN_TARGET) | Q(action__startswith=CONCERN_ACTIONS)
    visible = concerns_visible_to(viewer).annotate(key=Cast("pk", CharField())).values("key")
    return ~about_concerns | Q(target_type=CONCERN_TARGET, target_id__in=visible)


# --- form 3: everyone who handles one concern ------------------------------------------------


def _hosts(concern: Concern) -> QuerySet[Membership]:
    """The active members of the concern's group who handle it (never the one it is about)."""
    if _holds(concern, LEADS_ONLY):
        return Membership.objects.none()
    roles = [role for role, _as, when in GROUP_HANDLERS if _holds(concern, when)]
    return Membership.objects.filter(
        group_id=concern.group_id,
        role__in=roles,
        status=MembershipStatus.ACTIVE,
        user__is_active=True,
    ).exclude(pk=concern.about_id or 0)


def _leads(concern: Concern) -> QuerySet[User]:
    """The safeguarding leads, less one who is (actively) the member the concern is about."""
    leads = User.objects.filter(org_role=LEAD, is_active=True)
    if concern.about_id is not None:
        about = Membership.objects.filter(pk=concern.about_id, status=MembershipStatus.ACTIVE)
        leads = leads.exclude(pk__in=about.values("user_id"))
    return leads


def concern_lead_groups(concern: Concern) -> list[str]:
    """The private channel groups of the safeguarding leads who would handle `concern`."""
    return [realtime.user_group(pk) for pk in _leads(concern).values_list("pk", flat=True)]


def concern_handler_groups(concern: Concern) -> list[str]:
    """The private channel groups of everyone who handles `concern` right now."""
    names = [realtime.member_group(pk) for pk in _hosts(concern).values_list("pk", flat=True)]
    if leads_handle(concern):
        names += concern_lead_groups(concern)
    return names


def concern_reporter_groups(concern: Concern) -> list[str]:
    """The private channel group of the account that raised `concern`: every room she has open,
    in any group, hears that an answer waits (issue 17). Nobody else's."""
    if concern.reporter_id is None:
        return []
    owners = Membership.objects.filter(pk=concern.reporter_id).values_list("user_id", flat=True)
    return [realtime.user_group(user_id) for user_id in owners]


def concern_update_groups(concern: Concern) -> list[str]:
    """Who hears that `concern` changed: its handlers and the woman who raised it (once each)."""
    names = concern_handler_groups(concern)
    if concern.reporter_id is not None:
        names.append(realtime.member_group(concern.reporter_id))
    return list(dict.fromkeys(names))


# --- referrals (issue 17): who stands how to one referral ------------------------------------
#
# A referral concerns one member, and she is the only member who ever sees it: the others,
# peer mentors included, find nothing (404), exactly as for a referral that does not exist.
# The group's facilitators (and admins) who may propose follow its status, never its words;
# the words leave Haven only as the pack, and the pack exists only while her consent stands.


class ReferralRole(StrEnum):
    """How someone stands to one referral. Anyone without one gets 404 for it."""

    SUBJECT = "subject"  # the member it concerns: reads it, answers it, withdraws
    STAFF = "staff"  # may propose in its group: its status, cancelling it, the pack once agreed
    PACK_READER = "pack_reader"  # a safeguarding lead: the pack once agreed, nothing else


# The only moves a referral's status may make, and who makes each: she answers a proposal
# (agree or say no) and may withdraw her consent; changing her part of an agreed referral takes
# it back to proposed (she agrees again to the new words); staff may cancel one not yet closed.
REFERRAL_MOVES: Final[dict[tuple[str, str], frozenset[ReferralRole]]] = {
    (ReferralStatus.PROPOSED, ReferralStatus.ACCEPTED): frozenset({ReferralRole.SUBJECT}),
    (ReferralStatus.PROPOSED, ReferralStatus.DECLINED): frozenset({ReferralRole.SUBJECT}),
    (ReferralStatus.PROPOSED, ReferralStatus.WITHDRAWN): frozenset({ReferralRole.STAFF}),
    (ReferralStatus.ACCEPTED, ReferralStatus.PROPOSED): frozenset({ReferralRole.SUBJECT}),
    (ReferralStatus.ACCEPTED, ReferralStatus.WITHDRAWN): frozenset(
        {ReferralRole.SUBJECT, ReferralRole.STAFF}
    ),
}
# Her own words may change while the referral is open (proposed or agreed).
REFERRAL_OPEN: Final = frozenset({ReferralStatus.PROPOSED, ReferralStatus.ACCEPTED})


def referral_may_move(referral: Referral, to_status: str, role: ReferralRole) -> bool:
    return role in REFERRAL_MOVES.get((referral.status, to_status), frozenset())


def pack_open(referral: Referral) -> bool:
    """Does the pack exist? Only while her consent stands."""
    return referral.status == ReferralStatus.ACCEPTED


def referral_role(user: Any, referral: Referral) -> ReferralRole | None:
    """Who `user` is to `referral`, or None when she may not see it at all.

    She whom it concerns keeps seeing her referral after leaving the group (so she can always
    withdraw her consent); agreeing needs her in the group (`Action.REFERRAL_RESPOND`, asked by
    the services). A lead stands to it only while its pack is open.
    """
    if not is_signed_in(user):
        return None
    if referral.membership.user_id == user.pk:
        return ReferralRole.SUBJECT
    if can(user, Action.REFERRAL_PROPOSE, group=referral.group_id):
        return ReferralRole.STAFF
    if pack_open(referral) and can(user, Action.REFERRAL_PACK, group=referral.group_id):
        return ReferralRole.PACK_READER
    return None


def may_read_pack(user: Any, referral: Referral, role: ReferralRole) -> bool:
    """The pack: for staff and leads (`Action.REFERRAL_PACK`), only while her consent stands."""
    return (
        role in {ReferralRole.STAFF, ReferralRole.PACK_READER}
        and pack_open(referral)
        and can(user, Action.REFERRAL_PACK, group=referral.group_id)
    )


def referral_for(
    *,
    actor: Any,
    referral_id: Any,
    lock: bool = False,
    roles: frozenset[ReferralRole] | None = None,
) -> tuple[Referral, ReferralRole]:
    """Fetch a referral and the actor's role to it; `NotFound` for one she may not see (or,
    with `roles`, may not stand to as one of them), exactly as for one that does not exist."""
    pk = parse_id(referral_id)
    if not is_signed_in(actor):
        raise NotFound()
    rows = Referral.objects.select_related("membership", "group").filter(pk=pk)
    if lock:
        rows = rows.select_for_update(of=("self",))
    referral = rows.first()
    role = referral_role(actor, referral) if referral is not None else None
    if referral is None or role is None or (roles is not None and role not in roles):
        raise NotFound()
    return referral, role


def referrals_of_subject(viewer: Any) -> QuerySet[Referral]:
    """Every referral that concerns `viewer` (any of her memberships): hers alone to read."""
    if not is_signed_in(viewer):
        return Referral.objects.none()
    return Referral.objects.filter(membership__user_id=viewer.pk)
