"""The Django admin (issue 19): read-mostly, its actions through the services and the policy;
no concern or message text in any list or page of it."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from groups.models import Membership, ResetCode, User
from project import closecodes
from project.models import AuditEntry
from tests.facilitation.room import amake_room, join
from tests.safeguarding import BODY, post_message, raise_concern

USERS = "/staff/admin/groups/user/"
MEMBERS = "/staff/admin/groups/membership/"
CONCERNS = "/staff/admin/safeguarding/concern/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, url: str, action: str, *ids: int) -> Any:
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids]})


@pytest.mark.django_db(transaction=True)
async def test_switching_a_member_off_in_the_admin_closes_her_socket_and_is_audited():
    room = await amake_room()
    rose, _ = await join(room, "member")
    admin, member = room.world.users["admin"], room.world.users["member"]

    def switch_off() -> Any:
        return act(signed_in(admin), USERS, "switch_off", member.pk)

    response = await database_sync_to_async(switch_off)()

    assert response.status_code == 302
    assert await rose.closed_with() == closecodes.NOT_SIGNED_IN
    await rose.close()  # waits until her connection has finished leaving
    assert not (await database_sync_to_async(User.objects.get)(pk=member.pk)).is_active
    entry = await database_sync_to_async(
        AuditEntry.objects.filter(action="account.deactivated", target_id=str(member.pk)).get
    )()
    assert entry.actor_id == admin.pk


@pytest.mark.django_db
def test_the_admin_cannot_switch_herself_off_and_is_told_why(world):
    admin = world.users["admin"]
    client = signed_in(admin)

    response = act(client, USERS, "switch_off", admin.pk)

    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.is_active
    page = client.get(USERS).content.decode()
    assert "You cannot switch off your own account." in page


@pytest.mark.django_db
def test_a_reset_code_is_shown_once_in_the_answer_and_audited_without_it(world):
    admin, member = world.users["admin"], world.members["member"]

    response = act(signed_in(admin), MEMBERS, "reset_code", member.pk)

    assert response.status_code == 200
    [stored] = ResetCode.objects.filter(user=member.user)
    entry = AuditEntry.objects.get(action="account.reset_code_issued")
    assert entry.actor_id == admin.pk and entry.extra == {"member_id": member.pk}
    page = response.content.decode()
    assert "Her reset code" in page
    code = page.split('id="reset-code"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert len(code) == 19 and code not in str(entry.extra) and stored.code_hash != code
    assert "messages" not in response.cookies


@pytest.mark.django_db
def test_a_reset_code_for_two_members_at_once_is_refused_and_nothing_is_made(world):
    admin = world.users["admin"]
    ids = [world.members["member"].pk, world.members["member2"].pk]

    response = act(signed_in(admin), MEMBERS, "reset_code", *ids)

    assert response.status_code == 302
    assert not ResetCode.objects.exists()


@pytest.mark.django_db
def test_nothing_is_added_changed_or_deleted_through_the_admins_own_forms(world):
    client = signed_in(world.users["admin"])
    member = world.users["member"]

    assert client.get(f"{USERS}add/").status_code == 403
    assert client.get(f"{USERS}{member.pk}/delete/").status_code == 403
    page = client.get(f"{USERS}{member.pk}/change/")
    assert page.status_code == 200 and b'name="username"' not in page.content
    assert client.post(f"{USERS}{member.pk}/change/", {"username": "x"}).status_code == 403
    assert User.objects.get(pk=member.pk).username == "rose"


@pytest.mark.django_db
def test_only_an_org_admin_reaches_the_admin(world):
    for persona in ("facilitator", "safeguarding_lead", "member"):
        response = signed_in(world.users[persona]).get(USERS)
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_the_concern_list_shows_only_what_the_policy_allows_and_never_text(world):
    concern_id = raise_concern(world)
    admin = world.users["admin"]

    page = signed_in(admin).get(CONCERNS)

    # An org admin who handles no group sees no concern at all.
    assert page.status_code == 200 and f"/{concern_id}/change/" not in page.content.decode()
    assert signed_in(admin).get(f"{CONCERNS}{concern_id}/change/").status_code == 302

    # Her facilitator handles it: she sees that it exists and how it stands, never its words.
    facilitator = world.users["facilitator"]
    User.objects.filter(pk=facilitator.pk).update(is_staff=True, is_superuser=True)
    client = signed_in(User.objects.get(pk=facilitator.pk))
    listed = client.get(CONCERNS).content.decode()
    detail = client.get(f"{CONCERNS}{concern_id}/change/").content.decode()
    assert f"/{concern_id}/change/" in listed
    assert BODY not in listed and BODY not in detail
    assert "Received" in detail


@pytest.mark.django_db
def test_messages_are_not_in_the_admin_and_their_text_is_nowhere_in_it(world):
    from tests.safeguarding import live_room

    post_message(live_room(world), "member", "a message for the room only")
    client = signed_in(world.users["admin"])

    assert client.get("/staff/admin/facilitation/message/").status_code == 404
    for url in ("/staff/admin/", USERS, MEMBERS, CONCERNS, "/staff/admin/groups/group/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert b"a message for the room only" not in page.content


@pytest.mark.django_db
def test_the_taxonomy_is_edited_never_deleted_and_the_last_purge_is_listed_read_only(world):
    client = signed_in(world.users["admin"])

    # Editing it through its services: tests/facilitation/test_taxonomy_editing.py.
    warnings = client.get("/staff/admin/facilitation/contentwarning/")
    assert warnings.status_code == 200 and b"sexual_violence" in warnings.content
    assert b"delete_selected" not in warnings.content
    assert client.get("/staff/admin/facilitation/contentwarning/add/").status_code == 200
    deleting = "/staff/admin/facilitation/contentwarning/other/delete/"
    assert client.get(deleting).status_code == 403
    assert client.get("/staff/admin/project/maintenancerun/").status_code == 200
    assert Membership.objects.filter(pk=world.members["member"].pk).exists()
