"""Groups: creating, listing, reading and changing them."""

from __future__ import annotations

from groups import services
from groups.models import Group, Membership
from project.models import AuditEntry

GROUPS_URL = "/api/v1/groups/"


def names(response) -> list[str]:
    assert response.status_code == 200
    return [row["name"] for row in response.json()["results"]]


def test_an_org_facilitator_creates_a_group_and_becomes_its_facilitator(world):
    response = world.client("facilitator").post(
        GROUPS_URL,
        {"name": "Monday circle", "description": "Mondays at six", "display_name": "Sam M"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["description"], body["my_role"]) == (
        "Monday circle",
        "Mondays at six",
        "facilitator",
    )
    membership = Membership.objects.get(pk=body["my_member_id"])
    assert membership.group_id == body["id"]
    assert membership.user == world.user("facilitator")
    assert (membership.display_name, membership.role) == ("Sam M", "facilitator")
    detail = world.client("facilitator").get(f"{GROUPS_URL}{body['id']}/").json()
    assert detail["my_member_id"] == body["my_member_id"]
    assert AuditEntry.objects.filter(action="group.created", target_id=str(body["id"])).exists()


def test_a_group_needs_no_description(world):
    response = world.client("facilitator").post(
        GROUPS_URL, {"name": "Quiet one", "display_name": "Sam"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["description"] == ""


def test_a_member_cannot_create_a_group(world):
    before = Group.objects.count()

    response = world.client("member").post(
        GROUPS_URL, {"name": "Mine", "display_name": "Rose"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Group.objects.count() == before


def test_a_safeguarding_lead_cannot_create_a_group(world):
    response = world.client("safeguarding_lead").post(
        GROUPS_URL, {"name": "Mine", "display_name": "Lee"}, format="json"
    )

    assert response.status_code == 403


def test_the_group_list_shows_only_the_callers_groups(world):
    assert names(world.client("member").get(GROUPS_URL)) == ["Group A"]
    assert names(world.client("facilitator").get(GROUPS_URL)) == ["Group A"]
    assert names(world.client("outsider").get(GROUPS_URL)) == ["Group B"]
    assert names(world.client("other_facilitator").get(GROUPS_URL)) == ["Group B"]


def test_the_group_list_of_a_member_carries_her_member_id_and_role(world):
    rows = world.client("peer_mentor").get(GROUPS_URL).json()["results"]

    assert rows[0]["my_member_id"] == world.members["peer_mentor"].pk
    assert rows[0]["my_role"] == "peer_mentor"


def test_safeguarding_leads_and_admins_see_every_group(world):
    assert names(world.client("safeguarding_lead").get(GROUPS_URL)) == ["Group A", "Group B"]
    rows = world.client("admin").get(GROUPS_URL).json()["results"]
    assert [row["name"] for row in rows] == ["Group A", "Group B"]
    assert {row["my_role"] for row in rows} == {None}


def test_a_member_who_left_no_longer_sees_the_group(world):
    services.member_remove(
        actor=world.user("member"), group=world.group_a, member_id=world.members["member"].pk
    )

    assert names(world.client("member").get(GROUPS_URL)) == []


def test_the_group_detail_answers_id_name_description_and_my_membership(world):
    response = world.client("member").get(f"{GROUPS_URL}{world.group_a.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert {"id", "name", "description", "my_member_id", "my_role"} <= set(body)
    assert body["id"] == world.group_a.pk
    assert (body["name"], body["description"]) == ("Group A", "For A")
    assert (body["my_member_id"], body["my_role"]) == (world.members["member"].pk, "member")


def test_a_safeguarding_lead_sees_a_groups_detail_without_a_membership(world):
    body = world.client("safeguarding_lead").get(f"{GROUPS_URL}{world.group_a.pk}/").json()

    assert (body["name"], body["my_member_id"], body["my_role"]) == ("Group A", None, None)


def test_a_facilitator_changes_name_description_and_retention(world):
    url = f"{GROUPS_URL}{world.group_a.pk}/"

    response = world.client("facilitator").patch(
        url,
        {"name": "  Group   A prime ", "description": "New words", "retention_days": 14},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["retention_days"]) == (
        "Group A prime",
        "New words",
        14,
    )
    world.group_a.refresh_from_db()
    assert (world.group_a.name, world.group_a.description, world.group_a.retention_days) == (
        "Group A prime",
        "New words",
        14,
    )
    audit = AuditEntry.objects.get(action="group.updated", target_id=str(world.group_a.pk))
    assert audit.extra == {"fields": ["description", "name", "retention_days"]}


def test_a_patch_changes_only_the_fields_it_names(world):
    url = f"{GROUPS_URL}{world.group_a.pk}/"

    response = world.client("facilitator").patch(url, {"retention_days": 90}, format="json")

    assert response.status_code == 200
    world.group_a.refresh_from_db()
    assert (world.group_a.name, world.group_a.description, world.group_a.retention_days) == (
        "Group A",
        "For A",
        90,
    )


def test_a_member_cannot_change_the_group(world):
    response = world.client("member").patch(
        f"{GROUPS_URL}{world.group_a.pk}/", {"name": "Hijacked"}, format="json"
    )

    assert response.status_code == 403
    world.group_a.refresh_from_db()
    assert world.group_a.name == "Group A"


def test_lists_use_the_count_next_previous_results_envelope(world):
    client = world.client("safeguarding_lead")

    first = client.get(GROUPS_URL, {"page_size": 1})

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert body["previous"] is None
    assert body["next"] is not None
    assert [row["name"] for row in body["results"]] == ["Group A"]
    second = client.get(body["next"]).json()
    assert second["next"] is None
    assert second["previous"] is not None
    assert [row["name"] for row in second["results"]] == ["Group B"]


def test_every_list_endpoint_uses_the_envelope(world):
    client = world.client("facilitator")
    group = world.group_a.pk
    for url in [GROUPS_URL, f"{GROUPS_URL}{group}/members/", f"{GROUPS_URL}{group}/invites/"]:
        body = client.get(url).json()
        assert set(body) == {"count", "next", "previous", "results"}, url
        assert body["count"] == len(body["results"]), url
