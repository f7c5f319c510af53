"""The three forms of "who may see a concern" agree (`safeguarding.policies`).

For every persona and every shape of concern: she may see it (`concern_role`) exactly when it is
in her queryset (`concerns_visible_to`), her private channel groups are among its alert
recipients (`concern_handler_groups`) exactly when she handles it, and she hears that it changed
(`concern_update_groups`) exactly when she may see it. The world of `tests.conftest` is widened
with the people the rules have corners for: a lead who is herself a member of the group, a
facilitator whose account was switched off, and a member who raised a concern and then left.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db.models import Q

from groups import services as group_services
from groups.models import GroupRole, Membership, OrgRole, User
from project import realtime
from safeguarding import policies
from safeguarding import services as concern_services
from safeguarding.models import Concern
from safeguarding.policies import ConcernRole
from tests.conftest import World, join, make_staff
from tests.safeguarding.test_concern_visibility import SHAPES, VISIBILITY, make_shape

pytestmark = pytest.mark.django_db

HANDLING = frozenset({ConcernRole.HANDLER, ConcernRole.PEER_HANDLER})


@dataclass
class Wider:
    world: World
    users: dict[str, User | None]
    concerns: dict[str, Concern]


def _widen(world: World) -> Wider:
    """`world` plus the corner personas, and one concern of every shape (with the corners')."""
    facilitator = world.users["facilitator"]
    assert facilitator is not None
    group = world.group_a
    lead_member = join(
        group,
        by=facilitator,
        username="lead-in-a",
        display_name="Lina",
        role=GroupRole.MEMBER,
    )
    User.objects.filter(pk=lead_member.user_id).update(org_role=OrgRole.SAFEGUARDING_LEAD)
    switched_off = make_staff("fac-off", OrgRole.FACILITATOR)
    _, code = group_services.invite_create(actor=facilitator, group=group)
    off_member, _ = group_services.invite_redeem(actor=switched_off, code=code, display_name="Ola")
    group_services.member_change_role(
        actor=facilitator, group=group, member_id=off_member.pk, role=GroupRole.FACILITATOR
    )
    group_services.account_deactivate(actor=None, user=switched_off)
    leaver = join(group, by=facilitator, username="leaver", display_name="Lee", role="member")

    concerns = {shape: Concern.objects.get(pk=make_shape(world, shape)) for shape in SHAPES}
    about_lead = concern_services.concern_raise(
        actor=world.users["member"],
        group_id=group.pk,
        category="about_member",
        body="About Lina.",
        about_member_id=lead_member.pk,
    )
    for step in ("acknowledged", "escalated"):
        concern_services.concern_set_status(
            actor=facilitator, concern_id=about_lead.pk, status=step
        )
    concerns["about_a_lead_escalated"] = about_lead
    concerns["raised_then_left"] = concern_services.concern_raise(
        actor=leaver.user,
        group_id=group.pk,
        category="my_wellbeing",
        body="I am not well.",
        share_with_peer_mentors=True,
    )
    group_services.member_remove(actor=leaver.user, group=group, member_id=leaver.pk)

    users: dict[str, User | None] = dict(world.users)
    users["lead_member"] = User.objects.get(pk=lead_member.user_id)
    users["switched_off_facilitator"] = User.objects.get(pk=switched_off.pk)
    users["leaver"] = User.objects.get(pk=leaver.user_id)
    for key, concern in concerns.items():
        concerns[key] = Concern.objects.get(pk=concern.pk)
    return Wider(world=world, users=users, concerns=concerns)


def _private_groups(user: User | None) -> set[str]:
    """Every per-person channel group `user` could be listening on."""
    if user is None:
        return set()
    members = Membership.objects.filter(user=user).values_list("pk", flat=True)
    return {realtime.user_group(user.pk)} | {realtime.member_group(pk) for pk in members}


def test_the_three_forms_agree_for_every_persona_and_every_shape(world: World) -> None:
    wider = _widen(world)
    disagreements = []
    for persona, user in wider.users.items():
        listed = set(policies.concerns_visible_to(user).values_list("pk", flat=True))
        mine = _private_groups(user)
        for shape, concern in wider.concerns.items():
            role = policies.concern_role(user, concern)
            alerted = bool(mine & set(policies.concern_handler_groups(concern)))
            told = bool(mine & set(policies.concern_update_groups(concern)))
            forms = (role is not None, concern.pk in listed, alerted, told)
            wanted = (role is not None, role is not None, role in HANDLING, role is not None)
            if forms != wanted:
                disagreements.append((persona, shape, str(role), forms))
    assert disagreements == []


def test_the_one_concern_form_follows_the_visibility_table(world: World) -> None:
    wider = _widen(world)
    for persona, row in VISIBILITY.items():
        for shape, status in row.items():
            role = policies.concern_role(wider.users[persona], wider.concerns[shape])
            assert (role is not None) == (status == 200), (persona, shape)


def test_the_corners_of_the_rules_hold(world: World) -> None:
    wider = _widen(world)
    role = policies.concern_role
    concerns, users = wider.concerns, wider.users
    # The member a concern is about never sees it, even as a lead once it is escalated.
    assert role(users["lead_member"], concerns["about_a_lead_escalated"]) is None
    assert role(users["safeguarding_lead"], concerns["about_a_lead_escalated"]) is not None
    # She who raised it keeps hearing back after leaving the group.
    assert role(users["leaver"], concerns["raised_then_left"]) == ConcernRole.REPORTER
    # A switched-off account handles nothing and is alerted of nothing.
    assert all(role(users["switched_off_facilitator"], c) is None for c in concerns.values())
    # The group's own hosts never see a concern about how the group is run.
    assert role(users["facilitator"], concerns["facilitation"]) is None


def test_each_rule_reads_the_same_in_python_and_in_sql(world: World) -> None:
    """`_holds` (one concern) and `Q(**lookups)` (a queryset) give the same verdict."""
    wider = _widen(world)
    rules = [policies.LEADS_ONLY, *policies.LEADS_WHEN]
    rules += [when for _role, _as, when in policies.GROUP_HANDLERS]
    for concern in wider.concerns.values():
        for lookups in rules:
            in_sql = Concern.objects.filter(Q(pk=concern.pk), Q(**lookups)).exists()
            assert policies._holds(concern, lookups) is in_sql, (concern.pk, lookups)


def test_only_a_concerns_handlers_may_move_it_and_only_along_the_transitions(world: World) -> None:
    concern = Concern.objects.get(pk=make_shape(world, "private"))
    assert policies.concern_moves(concern, ConcernRole.HANDLER) == {"acknowledged", "escalated"}
    assert policies.concern_moves(concern, ConcernRole.PEER_HANDLER) == frozenset()
    assert policies.concern_moves(concern, ConcernRole.REPORTER) == frozenset()
