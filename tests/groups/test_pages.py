"""The pages of signing in and "My groups" call the same services and selectors as the REST API.

Sign-in on the page is `services.session_sign_in`: the same check, lockout counting and answers
as the token route, ending in a cookie session. "My groups" and the REST list both read
`selectors.group_list_with_membership`, so they show the same groups with the same membership.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from facilitation import services as session_services
from groups import selectors
from groups import services as group_services
from tests.conftest import PASSWORD, World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"
IP = "203.0.113.10"


def page_sign_in(client: Client, username: str, password: str) -> object:
    return client.post(SIGNIN, {"username": username, "password": password}, REMOTE_ADDR=IP)


def token_sign_in(username: str, password: str) -> object:
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=IP,
    )


def test_signing_in_on_the_page_starts_a_session_that_opens_my_groups(world: World) -> None:
    client = Client()
    response = page_sign_in(client, "ROSE", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/groups/"
    page = client.get("/groups/")
    assert page.status_code == 200
    assert b"Group A" in page.content and b"Group B" not in page.content


@pytest.mark.parametrize(
    ("username", "password"),
    [("rose", "not the password at all"), ("nobody-here", PASSWORD), ("gone", PASSWORD)],
)
def test_the_page_refuses_a_wrong_sign_in_with_the_words_of_the_api(
    world: World, username: str, password: str
) -> None:
    client = Client()
    response = page_sign_in(client, username, password)
    api = token_sign_in(username, password)
    assert response.status_code == api.status_code == 400
    assert api.json()["message"].encode() in response.content
    assert client.get("/groups/").status_code == 302  # still signed out


def test_failures_on_the_page_count_towards_the_same_lockout_as_the_api(world: World) -> None:
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "rose", f"wrong password {attempt}")
    api = token_sign_in("rose", PASSWORD)
    assert api.status_code == 429
    page = page_sign_in(client, "rose", PASSWORD)
    assert page.status_code == 429
    assert api.json()["message"].encode() in page.content
    assert client.get("/groups/").status_code == 302  # still signed out


def _rows(world: World, persona: str) -> list[tuple[int, int | None]]:
    viewer = world.users[persona]
    return [
        (row.group.pk, row.membership.pk if row.membership else None)
        for row in map(selectors.group_row, selectors.group_list_with_membership(viewer=viewer))
    ]


@pytest.mark.parametrize("persona", ["member", "facilitator", "safeguarding_lead", "outsider"])
def test_the_groups_page_and_the_rest_list_show_the_same_groups_and_memberships(
    world: World, persona: str
) -> None:
    api = world.client(persona).get("/api/v1/groups/").json()["results"]
    assert [(row["id"], row["my_member_id"]) for row in api] == _rows(world, persona)
    client = Client()
    client.force_login(world.users[persona])
    page = client.get("/groups/").content.decode()
    for row in api:
        assert row["name"] in page
    member = world.members.get(persona)
    if member is not None and member.group_id in {row["id"] for row in api}:
        assert f"You are {member.display_name} here." in page


def test_a_lead_sees_every_group_and_no_membership_in_them(world: World) -> None:
    assert _rows(world, "safeguarding_lead") == [
        (world.group_a.pk, None),
        (world.group_b.pk, None),
    ]


def test_the_groups_with_my_membership_take_two_queries_however_many_groups(
    world: World, django_assert_num_queries: Any
) -> None:
    viewer = world.users["admin"]
    with django_assert_num_queries(2):
        rows = [selectors.group_row(g) for g in selectors.group_list_with_membership(viewer=viewer)]
    assert len(rows) == 2


def test_a_group_read_without_her_membership_is_refused_as_a_programming_error(
    world: World,
) -> None:
    with pytest.raises(TypeError):
        selectors.group_row(world.group_a)


def test_the_group_page_offers_the_room_only_once_she_has_accepted_the_agreement(
    world: World,
) -> None:
    # Issue 16: a version binds the sessions that open after it; its link leads to the door.
    room = make_room(world=world, status="scheduled")
    newer = group_services.agreement_publish(
        actor=world.users["facilitator"], group=world.group_a, points=["A new point."]
    )
    for step in ("open", "live"):
        session_services.session_set_status(
            actor=world.users["facilitator"], session=room.session, status=step
        )
    browser = Client()
    browser.force_login(world.users["member"])
    page = browser.get(f"/groups/{world.group_a.pk}/").content.decode()
    assert "Enter the room" not in page
    assert "Before you can enter the room, read the agreement and accept it." in page

    group_services.agreement_accept(
        actor=world.users["member"], group=world.group_a, version=newer.version
    )
    page = browser.get(f"/groups/{world.group_a.pk}/").content.decode()
    assert f'href="/sessions/{room.session.pk}/room/"' in page
    assert "Before you can enter the room" not in page


DASH_HAVEN = "\N{EN DASH} Haven"


def test_every_page_title_says_what_the_page_is_and_nothing_about_her(world: World) -> None:
    room = make_room(world=world)
    facilitator = Client()
    facilitator.force_login(world.users["facilitator"])
    member = Client()
    member.force_login(world.users["member"])
    anonymous = Client()
    pages = [
        (anonymous, "/", "Haven"),
        (anonymous, "/signin/", "Sign in " + DASH_HAVEN),
        (anonymous, "/join/", "Join a group " + DASH_HAVEN),
        (member, "/groups/", "My groups " + DASH_HAVEN),
        (member, f"/groups/{world.group_a.pk}/", "Group " + DASH_HAVEN),
        (member, f"/sessions/{room.session.pk}/room/", "Room " + DASH_HAVEN),
        (member, "/concerns/", "Concerns " + DASH_HAVEN),
        (member, "/settings/", "Settings " + DASH_HAVEN),
        (facilitator, f"/sessions/{room.session.pk}/plan/", "Session plan " + DASH_HAVEN),
    ]
    private = [
        world.group_a.name,
        room.session.title,
        *(m.display_name for m in world.members.values()),
        *(u.username for u in world.users.values() if u is not None),
    ]
    for browser, url, title in pages:
        page = browser.get(url)
        assert page.status_code == 200, url
        found = re.search(r"<title>([^<]*)</title>", page.content.decode())
        assert found is not None and found.group(1) == title, (url, found)
        assert not any(word in found.group(1) for word in private), url
