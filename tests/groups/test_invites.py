"""Invites: creating, listing, revoking and redeeming codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from groups import services
from groups.models import Invite, Membership, MembershipStatus, User
from project.models import AuditEntry
from tests.conftest import PASSWORD


def redeem_url(code: str) -> str:
    return f"/api/v1/invites/{code}/redeem/"


def new_code(world, **options) -> str:
    _, code = services.invite_create(
        actor=world.user("facilitator"), group=world.group_a, **options
    )
    return code


def as_new_account(code: str, *, username: str = "newcomer", display_name: str = "Newcomer"):
    return APIClient().post(
        redeem_url(code),
        {"username": username, "password": PASSWORD, "display_name": display_name},
        format="json",
    )


def as_signed_in(world, persona: str, code: str, display_name: str = "Newcomer"):
    return world.client(persona).post(
        redeem_url(code), {"display_name": display_name}, format="json"
    )


def roster_names(world) -> list[str]:
    response = world.client("facilitator").get(f"/api/v1/groups/{world.group_a.pk}/members/")
    assert response.status_code == 200
    return [row["display_name"] for row in response.json()["results"]]


def counts() -> dict[str, object]:
    return {
        "users": User.objects.count(),
        "memberships": sorted(Membership.objects.values_list("pk", "status", "display_name")),
        "uses": sorted(Invite.objects.values_list("pk", "uses")),
        "audit": AuditEntry.objects.count(),
    }


# --- creating --------------------------------------------------------------------------------


def test_a_facilitator_creates_an_invite_and_sees_its_code_once(world):
    client = world.client("facilitator")

    response = client.post(
        f"/api/v1/groups/{world.group_a.pk}/invites/",
        {"role": "peer_mentor", "max_uses": 5, "expires_in_hours": 2},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["code"]
    assert body["role"] == "peer_mentor"
    assert body["max_uses"] == 5
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=59) < expires - timezone.now() <= timedelta(hours=2)
    listed = client.get(f"/api/v1/groups/{world.group_a.pk}/invites/").json()["results"]
    assert listed[0]["id"] == body["id"]
    assert (listed[0]["uses"], listed[0]["usable"], listed[0]["revoked"]) == (0, True, False)
    assert body["code"] not in str(listed)
    assert all("code" not in row for row in listed)


def test_an_invite_cannot_make_a_facilitator(world):
    before = Invite.objects.count()

    response = world.client("facilitator").post(
        f"/api/v1/groups/{world.group_a.pk}/invites/", {"role": "facilitator"}, format="json"
    )

    assert response.status_code == 400
    assert "role" in response.json()["extra"]["fields"]
    assert Invite.objects.count() == before


def test_the_invite_code_is_never_stored_in_plain_text(world):
    response = world.client("facilitator").post(
        f"/api/v1/groups/{world.group_a.pk}/invites/", {}, format="json"
    )
    code = response.json()["code"]
    compact = code.replace("-", "")

    invite = Invite.objects.get(pk=response.json()["id"])
    for field in Invite._meta.concrete_fields:
        value = str(field.value_from_object(invite))
        assert code not in value, field.name
        assert compact not in value.upper(), field.name
    for entry in AuditEntry.objects.all():
        assert compact not in str(entry.extra).replace("-", "")


# --- redeeming -------------------------------------------------------------------------------


def test_redeeming_as_a_new_account_answers_group_member_and_a_working_token(world):
    response = as_new_account(new_code(world))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"group_id", "member_id", "token"}
    assert body["group_id"] == world.group_a.pk
    membership = Membership.objects.get(pk=body["member_id"])
    assert membership.user.username == "newcomer"
    assert (membership.display_name, membership.role) == ("Newcomer", "member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert (
        client.get(f"/api/v1/groups/{world.group_a.pk}/").json()["my_member_id"]
        == (body["member_id"])
    )


def test_redeeming_while_signed_in_joins_with_that_account_and_gives_no_token(world):
    response = as_signed_in(world, "outsider", new_code(world), "Olive")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"group_id", "member_id"}
    membership = Membership.objects.get(pk=body["member_id"])
    assert membership.user == world.user("outsider")
    assert membership.group == world.group_a
    assert "Olive" in roster_names(world)


def test_an_invite_gives_the_role_it_was_made_for(world):
    response = as_new_account(new_code(world, role="peer_mentor"))

    assert Membership.objects.get(pk=response.json()["member_id"]).role == "peer_mentor"


def test_an_unknown_code_is_not_found(world):
    response = as_new_account("ABCD-EFGH-JKLM")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_expired_code_is_not_found(world):
    code = new_code(world, expires_in_hours=1)

    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1), tick=False):
        response = as_new_account(code)

    assert response.status_code == 404
    assert not User.objects.filter(username="newcomer").exists()


def test_a_code_just_before_it_expires_still_works(world):
    code = new_code(world, expires_in_hours=1)

    with time_machine.travel(timezone.now() + timedelta(minutes=59), tick=False):
        response = as_new_account(code)

    assert response.status_code == 201


def test_a_used_up_code_is_not_found(world):
    code = new_code(world, max_uses=2)
    assert as_new_account(code, username="first", display_name="First").status_code == 201
    assert as_new_account(code, username="second", display_name="Second").status_code == 201

    response = as_new_account(code, username="third", display_name="Third")

    assert response.status_code == 404
    assert not User.objects.filter(username="third").exists()


def test_a_revoked_code_is_not_found(world):
    invite, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    revoke = world.client("facilitator").delete(
        f"/api/v1/groups/{world.group_a.pk}/invites/{invite.pk}/"
    )
    assert revoke.status_code == 204

    assert as_new_account(code).status_code == 404


def test_the_same_signed_in_user_redeeming_twice_is_already_a_member(world):
    code = new_code(world, max_uses=5)
    assert as_signed_in(world, "outsider", code, "Olive").status_code == 201

    response = as_signed_in(world, "outsider", code, "Olive Again")

    assert response.status_code == 409
    assert response.json()["code"] == "already_member"


def test_a_display_name_already_used_in_the_group_is_taken(world):
    response = as_new_account(new_code(world), display_name="Rose")

    assert response.status_code == 409
    assert response.json()["code"] == "display_name_taken"


FULLWIDTH_ROSE = "\uff32\uff4f\uff53\uff45"


@pytest.mark.parametrize("name", ["rose", "ROSE", " Rose ", FULLWIDTH_ROSE])
def test_a_display_name_is_taken_whatever_its_case_width_or_spacing(world, name):
    response = as_new_account(new_code(world), display_name=name)

    assert response.status_code == 409
    assert response.json()["code"] == "display_name_taken"


def test_the_same_display_name_is_fine_in_another_group(world):
    _, code = services.invite_create(actor=world.user("other_facilitator"), group=world.group_b)

    assert as_new_account(code, display_name="Rose").status_code == 201


def test_a_member_removed_by_a_facilitator_cannot_rejoin(world):
    rose = world.members["member"]
    removed = world.client("facilitator").delete(
        f"/api/v1/groups/{world.group_a.pk}/members/{rose.pk}/"
    )
    assert removed.status_code == 204

    response = as_signed_in(world, "member", new_code(world), "Rose")

    assert response.status_code == 404
    rose.refresh_from_db()
    assert rose.status == MembershipStatus.REMOVED


def test_a_member_who_left_herself_can_rejoin(world):
    rose = world.members["member"]
    left = world.client("member").delete(f"/api/v1/groups/{world.group_a.pk}/members/{rose.pk}/")
    assert left.status_code == 204
    assert "Rose" not in roster_names(world)

    response = as_signed_in(world, "member", new_code(world), "Rose")

    assert response.status_code == 201
    assert "Rose" in roster_names(world)
    rose.refresh_from_db()
    assert rose.status == MembershipStatus.ACTIVE


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.lower(),
        lambda code: code.replace("-", ""),
        lambda code: code.replace("-", "").lower(),
    ],
    ids=["lower-case", "no-dashes", "lower-case-no-dashes"],
)
def test_the_code_works_whatever_its_case_and_dashes(world, typed):
    code = new_code(world)

    assert as_new_account(typed(code)).status_code == 201


def test_a_left_members_display_name_stays_hers_and_not_someone_elses(world):
    rose = world.members["member"]
    world.client("member").delete(f"/api/v1/groups/{world.group_a.pk}/members/{rose.pk}/")

    response = as_new_account(new_code(world), display_name="Rose")

    assert response.status_code == 409


def _remove_rose(world) -> None:
    services.member_remove(
        actor=world.user("facilitator"), group=world.group_a, member_id=world.members["member"].pk
    )


def _post(code: str, body: dict):
    return APIClient().post(redeem_url(code), body, format="json")


# Each entry prepares the world and returns the failing call, so counts are taken in between.
FAILURES = {
    "unknown code": lambda world, code: lambda: as_new_account("ABCD-EFGH-JKLM"),
    "display name taken": lambda world, code: lambda: as_new_account(code, display_name="rose"),
    "already a member": lambda world, code: lambda: as_signed_in(world, "member", code, "Rosie"),
    "username taken": lambda world, code: lambda: as_new_account(code, username="jade"),
    "weak password": lambda world, code: (
        lambda: _post(code, {"username": "newcomer", "password": "123", "display_name": "Newcomer"})
    ),
    "no username": lambda world, code: lambda: _post(code, {"display_name": "Newcomer"}),
    "display name too short": lambda world, code: lambda: as_new_account(code, display_name="N"),
    "removed member": lambda world, code: (
        _remove_rose(world),
        lambda: as_signed_in(world, "member", code, "Rose"),
    )[1],
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_redeem_writes_nothing(world, failure):
    attempt = FAILURES[failure](world, new_code(world))
    before = counts()

    response = attempt()

    assert response.status_code in {400, 404, 409}, response.content
    assert counts() == before
