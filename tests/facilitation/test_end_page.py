"""Ending a session on a page of its own (issue 17): "End the session for everyone?" changes
nothing until she says yes; then `session_set_status` ends it (audited, in the durable log, the
room hears it and closes) and she lands on the summary. Members get 403, anyone outside the
group 404; a co-host while a facilitator is in the room is told so and nothing changes."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from facilitation.models import Session, SessionStatus
from project.models import AuditEntry
from tests.conftest import World
from tests.facilitation.room import join, make_room

pytestmark = pytest.mark.django_db(transaction=True)


def browser_for(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def end_url(session: Session) -> str:
    return f"/sessions/{session.pk}/end/"


def status_of(session: Session) -> str:
    return Session.objects.get(pk=session.pk).status


def test_the_page_asks_first_and_opening_it_changes_nothing(world):
    room = make_room(world=world)

    page = browser_for(world, "facilitator").get(end_url(room.session))

    text = page.content.decode()
    assert page.status_code == 200
    assert "<title>End a session \N{EN DASH} Haven</title>" in text
    assert "End the session for everyone?" in text and "This cannot be undone." in text
    assert f'href="/sessions/{room.session.pk}/room/">Keep it going</a>' in text
    assert status_of(room.session) == SessionStatus.LIVE


def test_the_room_links_its_end_session_control_to_the_page(world):
    room = make_room(world=world)

    text = browser_for(world, "facilitator").get(f"/sessions/{room.session.pk}/room/")

    assert f'id="end-session" href="{end_url(room.session)}"' in text.content.decode()
    assert 'id="end-dialog"' not in text.content.decode()


def test_saying_yes_ends_it_and_lands_on_the_summary(world):
    room = make_room(world=world)

    answer = browser_for(world, "facilitator").post(end_url(room.session))

    assert answer.status_code == 302
    assert answer["Location"] == f"/sessions/{room.session.pk}/summary/"
    assert status_of(room.session) == SessionStatus.ENDED
    audit = AuditEntry.objects.filter(action="session.status_changed", extra__to="ended")
    assert [a.extra for a in audit] == [{"from": "live", "to": "ended"}]
    again = browser_for(world, "facilitator").get(end_url(room.session))
    assert again.status_code == 302 and again["Location"].endswith("/summary/")


def test_a_member_gets_403_and_someone_outside_the_group_404_and_nothing_changes(world):
    room = make_room(world=world)

    member = browser_for(world, "member")
    outsider = browser_for(world, "outsider")

    assert member.get(end_url(room.session)).status_code == 403
    assert member.post(end_url(room.session)).status_code == 403
    assert outsider.get(end_url(room.session)).status_code == 404
    assert outsider.post(end_url(room.session)).status_code == 404
    assert browser_for(world, "facilitator").get("/sessions/999999/end/").status_code == 404
    assert status_of(room.session) == SessionStatus.LIVE


def test_a_session_that_has_not_opened_cannot_be_ended_and_the_page_says_why(world):
    room = make_room(world=world, status="scheduled")

    answer = browser_for(world, "facilitator").post(end_url(room.session))

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "<title>Error: End a session \N{EN DASH} Haven</title>" in text
    assert 'class="error-summary"' in text and 'href="#end-choice"' in text
    assert status_of(room.session) == SessionStatus.SCHEDULED


async def test_the_room_hears_the_end_said_on_the_page_and_closes():
    from tests.facilitation.room import amake_room

    room = await amake_room()
    rose, _ = await join(room, "member")

    answer = await database_sync_to_async(
        lambda: browser_for(room.world, "facilitator").post(end_url(room.session))
    )()

    assert answer.status_code == 302
    ended = await rose.until("session.status")
    assert ended["status"] == "ended"
    assert await rose.closed_with() == 4410


async def test_a_co_host_is_told_while_a_facilitator_is_in_the_room_and_nothing_changes():
    from tests.facilitation.room import amake_room

    room = await amake_room()
    fac, _ = await join(room, "facilitator")

    answer = await database_sync_to_async(
        lambda: browser_for(room.world, "peer_mentor").post(end_url(room.session))
    )()

    assert answer.status_code == 400
    assert "A facilitator is in the room" in answer.content.decode()
    assert await database_sync_to_async(status_of)(room.session) == SessionStatus.LIVE
    await fac.close()
