"""The audit log's entries about a concern are read only by those who may see that concern
(issue 13): an org admin who is the subject of a concern could read the `actor_id` of its
`concern.raised` entry, and so who raised it."""

from __future__ import annotations

from typing import Any

import pytest

from groups import services as group_services
from groups.models import Membership, OrgRole, User
from project.models import AuditEntry
from tests.conftest import World, make_staff
from tests.safeguarding import detail, move, raise_concern, reply

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"


def admin_in_group_a(world: World) -> tuple[User, Membership, Any]:
    """An org admin who is also a member of group A, and a client signed in as her."""
    admin = make_staff("ada", OrgRole.ADMIN)
    _, code = group_services.invite_create(actor=world.users["facilitator"], group=world.group_a)
    membership, _ = group_services.invite_redeem(actor=admin, code=code, display_name="Ada")
    world.tokens["admin_in_a"] = group_services.token_issue(user=admin)
    return admin, membership, world.client("admin_in_a")


def read_log(client: Any, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{AUDIT}?page_size=200&{query}")
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == len(response.json()["results"])
    return response.json()["results"]


def about(rows: list[dict[str, Any]], concern_id: int) -> list[dict[str, Any]]:
    return [r for r in rows if r["target_type"] == "concern" and r["target_id"] == str(concern_id)]


def test_an_admin_who_is_the_subject_of_a_concern_cannot_find_who_raised_it(world):
    _admin, membership, client = admin_in_group_a(world)
    concern_id = raise_concern(world, about_member_id=membership.pk)
    assert detail(world, "facilitator", concern_id).status_code == 200
    assert reply(world, "member", concern_id, "Still worried").status_code == 201
    assert move(world, "facilitator", concern_id, "acknowledged").status_code == 200
    assert AuditEntry.objects.filter(target_type="concern", target_id=str(concern_id)).count() == 4

    assert about(read_log(client), concern_id) == []
    assert read_log(client, f"target_type=concern&target_id={concern_id}") == []
    assert read_log(client, "action=concern.raised") == []
    reporter = world.users["member"].pk
    assert all(
        not r["action"].startswith("concern.")
        for r in read_log(client)
        if r["actor_id"] == reporter
    )


def test_a_concern_entry_is_left_out_as_if_it_did_not_exist(world):
    _admin, membership, client = admin_in_group_a(world)
    seen_before = read_log(client)
    concern_id = raise_concern(world, about_member_id=membership.pk)
    after = read_log(client)
    assert after == seen_before
    assert client.get(f"{AUDIT}?target_type=concern&target_id={concern_id}").json()["count"] == 0


def test_the_leads_read_a_concern_s_entries_once_they_may_see_the_concern(world):
    _admin, membership, subject = admin_in_group_a(world)
    concern_id = raise_concern(world, about_member_id=membership.pk)
    lead = world.client("safeguarding_lead")
    assert about(read_log(lead), concern_id) == []
    assert move(world, "facilitator", concern_id, "acknowledged").status_code == 200
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200

    actions = {r["action"] for r in about(read_log(lead), concern_id)}
    assert actions == {"concern.raised", "concern.status_changed", "concern.escalated"}
    raised = next(r for r in about(read_log(lead), concern_id) if r["action"] == "concern.raised")
    assert raised["actor_id"] == world.users["member"].pk
    # Escalated, the concern goes to the leads; the admin it is about still reads nothing of it.
    assert about(read_log(subject), concern_id) == []


def test_entries_about_anything_else_are_read_as_before(world):
    _admin, membership, client = admin_in_group_a(world)
    raise_concern(world, about_member_id=membership.pk)
    others = AuditEntry.objects.exclude(target_type="concern").exclude(
        action__startswith="concern."
    )
    for persona_client in (client, world.client("admin"), world.client("safeguarding_lead")):
        rows = read_log(persona_client)
        assert {r["id"] for r in rows if r["target_type"] != "concern"} == set(
            others.values_list("pk", flat=True)
        )


def test_a_concern_she_raised_herself_is_hers_to_read_in_the_log(world):
    admin, _membership, client = admin_in_group_a(world)
    raised = client.post(
        "/api/v1/concerns/",
        {"group_id": world.group_a.pk, "category": "my_wellbeing", "body": "I am not well."},
        format="json",
    )
    assert raised.status_code == 201
    concern_id = raised.json()["id"]
    [entry] = about(read_log(client), concern_id)
    assert entry["action"] == "concern.raised"
    assert entry["actor_id"] == admin.pk
    # The plain org admin, in no group, may not see it, so reads nothing of it.
    assert about(read_log(world.client("admin")), concern_id) == []
