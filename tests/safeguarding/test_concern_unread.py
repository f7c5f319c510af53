"""Concerns she can follow (issue 17): a discreet dot on "Concerns", and on the room's "Raise a
concern", while a concern she raised has an answer (a staff reply or a status change) she has
not opened since. Never a number, never a word in the title; one indexed statement for her."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from frontend.context_processors import haven
from safeguarding import selectors
from tests.conftest import World
from tests.safeguarding import CONCERNS, detail, move, raise_concern, reply

pytestmark = pytest.mark.django_db

DOT = '<span class="nav-dot" aria-hidden="true"></span>'


def page(world: World, persona: str, path: str = "/groups/") -> str:
    client = Client()
    client.force_login(world.users[persona])
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def nav_item(text: str) -> str:
    start = text.index('id="nav-concerns"')
    return text[start : text.index("</li>", start)]


def title(text: str) -> str:
    return re.search(r"<title>(.*?)</title>", text, re.S).group(1)


def unread(world: World, persona: str) -> bool:
    return selectors.unread_answers(viewer=world.users[persona])


def test_a_staff_reply_puts_a_dot_on_concerns_until_she_opens_the_concern(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    assert not unread(world, "member")
    assert DOT not in nav_item(page(world, "member"))
    assert reply(world, "facilitator", concern_id, "We are here. Can we talk?").status_code == 201
    assert unread(world, "member")
    text = page(world, "member")
    assert DOT in nav_item(text)
    assert "(new answer)" in nav_item(text)
    assert title(text) == "My groups \N{EN DASH} Haven"  # nothing in the tab title
    # Her concerns list says which one, and opening it takes the dot away.
    listing = page(world, "member", "/concerns/")
    assert "New answer" in listing
    opened = page(world, "member", f"/concerns/{concern_id}/")
    assert DOT not in nav_item(opened)
    assert not unread(world, "member")
    assert "New answer" not in page(world, "member", "/concerns/")


def test_a_status_change_she_can_see_is_an_answer_too(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    assert move(world, "facilitator", concern_id, "acknowledged").status_code == 200
    assert unread(world, "member")
    assert detail(world, "member", concern_id).status_code == 200  # reading it over REST too
    assert not unread(world, "member")


def test_a_staff_note_or_her_own_reply_is_not_an_answer(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    note = world.client("facilitator").post(
        f"{CONCERNS}{concern_id}/notes/", {"body": "Call her tomorrow."}, format="json"
    )
    assert note.status_code == 201
    assert reply(world, "member", concern_id, "One more thing.").status_code == 201
    assert not unread(world, "member")
    assert DOT not in nav_item(page(world, "member"))


def test_a_handler_reading_it_does_not_take_her_dot_away(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    reply(world, "facilitator", concern_id, "We read it.")
    assert detail(world, "facilitator", concern_id).status_code == 200
    assert unread(world, "member")


def test_another_member_never_sees_her_dot(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    reply(world, "facilitator", concern_id, "We read it.")
    for persona in ("member2", "peer_mentor", "outsider"):
        assert not unread(world, persona)
        assert DOT not in nav_item(page(world, persona))


def test_the_list_api_says_new_answer_only_to_her(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    reply(world, "facilitator", concern_id, "We read it.")
    mine = world.client("member").get(CONCERNS).json()["results"]
    assert [row["new_answer"] for row in mine if row["id"] == concern_id] == [True]
    handled = world.client("facilitator").get(CONCERNS).json()["results"]
    assert [row["new_answer"] for row in handled if row["id"] == concern_id] == [False]


def test_the_dot_costs_her_one_statement_and_only_when_the_page_shows_it(world: World) -> None:
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    reply(world, "facilitator", concern_id, "We read it.")
    request = RequestFactory().get("/groups/")
    request.user = world.users["member"]
    with CaptureQueriesContext(connection) as queries:
        context = haven(request)
    assert len(queries) == 0  # lazy: building the context costs nothing
    with CaptureQueriesContext(connection) as queries:
        assert bool(context["concern_unread"]) is True
    assert len(queries) == 1
    assert "concern_unread_answer" in connection.introspection.get_constraints(
        connection.cursor(), "safeguarding_concern"
    )


def test_the_room_shows_the_dot_on_raise_a_concern(world: World) -> None:
    from tests.safeguarding import live_room

    room = live_room(world)
    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    path = f"/sessions/{room.session.pk}/room/"
    assert "(new answer)" not in page(world, "member", path)
    reply(world, "facilitator", concern_id, "We read it.")
    text = page(world, "member", path)
    button = text[
        text.index('id="concern-open"') : text.index("</button>", text.index('id="concern-open"'))
    ]
    assert DOT in button and "(new answer)" in button
    assert 'id="concern-unread"' in text
    assert title(text).startswith("Room")


@override_settings(HAVEN_CONCERN_ACK_HOURS={"urgent": 2, "normal": 48, "low": 72})
def test_reply_times_come_from_the_settings_on_the_form_and_her_concern_page(
    world: World,
) -> None:
    listing = page(world, "member", "/concerns/")
    assert "We aim to answer an urgent concern within 2 hours." in listing
    assert "We aim to answer a normal concern within 2 days." in listing
    assert "We aim to answer a low urgency concern within 3 days." in listing
    concern_id = raise_concern(
        world, category="my_wellbeing", about_member_id=None, urgency="urgent"
    )
    assert "We aim to answer an urgent concern within 2 hours." in page(
        world, "member", f"/concerns/{concern_id}/"
    )
    # Those who handle it see the answer-by time instead, not her promise.
    assert "We aim to answer" not in page(world, "facilitator", f"/concerns/{concern_id}/")


def test_the_default_urgent_time_reads_one_hour(world: World) -> None:
    assert "We aim to answer an urgent concern within 1 hour." in page(
        world, "member", "/concerns/"
    )


def test_haven_escalating_it_in_time_is_news_she_can_see(world: World) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from safeguarding import services
    from safeguarding.models import Concern

    concern_id = raise_concern(world, category="my_wellbeing", about_member_id=None)
    Concern.objects.filter(pk=concern_id).update(acknowledge_by=timezone.now() - timedelta(hours=1))
    assert services.concerns_escalate_overdue() == 1
    assert unread(world, "member")
    assert "Someone more senior is now looking at this with us." in page(
        world, "member", f"/concerns/{concern_id}/"
    )
    assert not unread(world, "member")
