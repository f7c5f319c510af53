"""The roster: pseudonyms only, role changes, removal, leaving, and the audit trail."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

from groups import services
from groups.models import Membership, MembershipStatus
from project.models import AuditEntry
from tests.conftest import PASSWORD

ACCOUNT_KEYS = {
    "user",
    "user_id",
    "userid",
    "account",
    "account_id",
    "username",
    "owner",
    "created_by",
    "created_by_id",
    "actor",
    "actor_id",
}


def members_url(world, member_id: int | None = None) -> str:
    base = f"/api/v1/groups/{world.group_a.pk}/members/"
    return base if member_id is None else f"{base}{member_id}/"


def roster(world, persona: str = "facilitator") -> list[dict[str, Any]]:
    response = world.client(persona).get(members_url(world))
    assert response.status_code == 200
    return response.json()["results"]


def keys_in(value: Any) -> set[str]:
    """Every key of every object anywhere in a JSON document."""
    if isinstance(value, dict):
        found = {str(key).lower() for key in value}
        for item in value.values():
            found |= keys_in(item)
        return found
    if isinstance(value, list):
        found: set[str] = set()
        for item in value:
            found |= keys_in(item)
        return found
    return set()


def test_roster_items_carry_exactly_member_id_display_name_and_role(world):
    rows = roster(world, "member")

    assert rows
    assert all(set(row) == {"member_id", "display_name", "role"} for row in rows)
    by_name = {row["display_name"]: row for row in rows}
    assert by_name["Rose"] == {
        "member_id": world.members["member"].pk,
        "display_name": "Rose",
        "role": "member",
    }


def test_the_roster_lists_active_members_facilitators_first(world):
    rows = roster(world)

    # The deactivated account's membership ("Gone") is still active: deactivation is about
    # the account, the group keeps its seat until a facilitator removes it.
    assert [row["display_name"] for row in rows] == ["Sam", "Mari", "Gone", "Jade", "Rose"]
    assert [row["role"] for row in rows] == ["facilitator", "peer_mentor"] + ["member"] * 3


def test_no_groups_api_answer_names_an_account(world):
    group = world.group_a.pk
    facilitator = world.client("facilitator")
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    answers = [
        facilitator.get("/api/v1/groups/"),
        facilitator.get(f"/api/v1/groups/{group}/"),
        facilitator.get(members_url(world)),
        facilitator.patch(
            members_url(world, world.members["member2"].pk), {"role": "peer_mentor"}, format="json"
        ),
        facilitator.patch(f"/api/v1/groups/{group}/", {"description": "New"}, format="json"),
        facilitator.post(f"/api/v1/groups/{group}/invites/", {}, format="json"),
        facilitator.get(f"/api/v1/groups/{group}/invites/"),
        facilitator.post("/api/v1/groups/", {"name": "G", "display_name": "Sam"}, format="json"),
        world.client("admin").get("/api/v1/groups/"),
        world.client("member").get(members_url(world)),
        world.client("outsider").post(
            f"/api/v1/invites/{code}/redeem/", {"display_name": "Olive"}, format="json"
        ),
    ]
    for response in answers:
        assert response.status_code in {200, 201}, response.content
        body = response.json()
        assert not keys_in(body) & ACCOUNT_KEYS, (response.request["PATH_INFO"], body)
    # The scan does look inside lists of objects.
    assert {"member_id", "display_name", "role"} <= keys_in(answers[2].json())
    # A member id is a membership's, never an account's.
    for row in answers[2].json()["results"]:
        membership = Membership.objects.get(pk=row["member_id"])
        assert membership.group_id == group


def test_a_facilitator_changes_a_members_role(world):
    rose = world.members["member"]

    response = world.client("facilitator").patch(
        members_url(world, rose.pk), {"role": "peer_mentor"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"member_id": rose.pk, "display_name": "Rose", "role": "peer_mentor"}
    assert {"member_id": rose.pk, "display_name": "Rose", "role": "peer_mentor"} in roster(world)


def test_promoting_a_member_without_a_staff_account_to_facilitator_is_invalid(world):
    rose = world.members["member"]

    response = world.client("facilitator").patch(
        members_url(world, rose.pk), {"role": "facilitator"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "role" in response.json()["extra"]["fields"]
    rose.refresh_from_db()
    assert rose.role == "member"


def test_a_staff_facilitator_in_the_group_can_be_promoted_to_facilitator(world):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    joined = world.client("other_facilitator").post(
        f"/api/v1/invites/{code}/redeem/", {"display_name": "Bea"}, format="json"
    )
    member_id = joined.json()["member_id"]

    response = world.client("facilitator").patch(
        members_url(world, member_id), {"role": "facilitator"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "facilitator"


def test_the_last_facilitator_cannot_be_demoted(world):
    sam = world.members["facilitator"]

    response = world.client("facilitator").patch(
        members_url(world, sam.pk), {"role": "member"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "last_facilitator"
    sam.refresh_from_db()
    assert sam.role == "facilitator"


def test_the_last_facilitator_cannot_be_removed_even_by_an_admin(world):
    sam = world.members["facilitator"]

    response = world.client("admin").delete(members_url(world, sam.pk))

    assert response.status_code == 409
    assert response.json()["code"] == "last_facilitator"
    sam.refresh_from_db()
    assert sam.status == MembershipStatus.ACTIVE


def test_the_last_facilitator_cannot_leave(world):
    sam = world.members["facilitator"]

    response = world.client("facilitator").delete(members_url(world, sam.pk))

    assert response.status_code == 409
    assert response.json()["code"] == "last_facilitator"
    assert "Sam" in [row["display_name"] for row in roster(world)]


def test_a_facilitator_may_leave_once_there_is_another(world):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    joined = world.client("other_facilitator").post(
        f"/api/v1/invites/{code}/redeem/", {"display_name": "Bea"}, format="json"
    )
    services.member_change_role(
        actor=world.user("facilitator"),
        group=world.group_a,
        member_id=joined.json()["member_id"],
        role="facilitator",
    )

    response = world.client("facilitator").delete(
        members_url(world, world.members["facilitator"].pk)
    )

    assert response.status_code == 204
    rows = roster(world, "other_facilitator")
    assert rows[0]["display_name"] == "Bea"
    assert "Sam" not in [row["display_name"] for row in rows]


def test_a_facilitator_removes_a_member_and_she_leaves_the_roster(world):
    rose = world.members["member"]

    response = world.client("facilitator").delete(members_url(world, rose.pk))

    assert response.status_code == 204
    assert rose.pk not in [row["member_id"] for row in roster(world)]
    rose.refresh_from_db()
    assert rose.status == MembershipStatus.REMOVED
    assert world.client("member").get(f"/api/v1/groups/{world.group_a.pk}/").status_code == 404


def test_a_member_leaves_by_deleting_her_own_member_id(world):
    rose = world.members["member"]

    response = world.client("member").delete(members_url(world, rose.pk))

    assert response.status_code == 204
    assert rose.pk not in [row["member_id"] for row in roster(world)]
    rose.refresh_from_db()
    assert rose.status == MembershipStatus.LEFT
    assert world.client("member").get(members_url(world)).status_code == 404


def test_a_member_cannot_remove_another_member(world):
    response = world.client("member").delete(members_url(world, world.members["member2"].pk))

    assert response.status_code == 403
    assert "Jade" in [row["display_name"] for row in roster(world)]


def test_removing_someone_already_gone_is_not_found(world):
    rose = world.members["member"]
    assert world.client("facilitator").delete(members_url(world, rose.pk)).status_code == 204

    assert world.client("facilitator").delete(members_url(world, rose.pk)).status_code == 404


def test_the_roster_actions_leave_an_audit_trail_without_names_or_codes(world):
    facilitator = world.client("facilitator")
    group = world.group_a.pk
    created = facilitator.post(f"/api/v1/groups/{group}/invites/", {}, format="json").json()
    code = created["code"]
    redeemed = APIClient().post(
        f"/api/v1/invites/{code}/redeem/",
        {"username": "zinnia", "password": PASSWORD, "display_name": "Zinnia Flower"},
        format="json",
    )
    assert redeemed.status_code == 201
    zinnia_member = redeemed.json()["member_id"]
    assert (
        facilitator.patch(
            members_url(world, zinnia_member), {"role": "peer_mentor"}, format="json"
        ).status_code
        == 200
    )
    jade = world.members["member2"].pk
    assert facilitator.delete(members_url(world, jade)).status_code == 204
    rose = world.members["member"].pk
    assert world.client("member").delete(members_url(world, rose)).status_code == 204

    def entry(action: str, target_id: int) -> AuditEntry:
        rows = AuditEntry.objects.filter(action=action, target_id=str(target_id), group_id=group)
        assert rows.count() == 1, action
        return rows.get()

    fac = world.user("facilitator")
    zinnia_user = Membership.objects.get(pk=zinnia_member).user
    assert entry("invite.created", created["id"]).actor == fac
    assert entry("invite.created", created["id"]).target_type == "invite"
    redeem = entry("invite.redeemed", created["id"])
    assert (redeem.actor, redeem.target_type) == (zinnia_user, "invite")
    assert redeem.extra["member_id"] == zinnia_member
    changed = entry("member.role_changed", zinnia_member)
    assert (changed.actor, changed.target_type) == (fac, "membership")
    assert changed.extra == {"from": "member", "to": "peer_mentor"}
    removed = entry("member.removed", jade)
    assert (removed.actor, removed.target_type) == (fac, "membership")
    left = entry("member.left", rose)
    assert (left.actor, left.target_type) == (world.user("member"), "membership")

    secrets_ = ["Zinnia Flower", "Zinnia", "Rose", "Jade", "Sam", code, code.replace("-", "")]
    for row in AuditEntry.objects.all():
        dumped = json.dumps(row.extra) + row.action + row.target_type + row.target_id
        for secret in secrets_:
            assert secret.lower() not in dumped.lower(), (row.action, secret)
