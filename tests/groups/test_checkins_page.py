"""After a session, "How people were" (issue 15): the group's facilitators see who arrived or
left struggling first, so someone can follow up; each visit is audited; nobody else sees it."""

from __future__ import annotations

import pytest
from django.test import Client

from facilitation import services as session_services
from project.models import AuditEntry
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def test_facilitators_see_who_was_struggling_first_and_each_visit_is_recorded(world):
    room = make_room(world=world)
    for persona, mood, note in [
        ("member", "struggling", "It has been a very hard week."),
        ("member2", "good", ""),
    ]:
        context, _state = session_services.room_enter(
            actor=world.users[persona], session_id=room.session.pk
        )
        session_services.checkin_set(
            actor=world.users[persona], context=context, moment="in", mood=mood, note=note
        )
    session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    url = f"/sessions/{room.session.pk}/checkins/"

    group_page = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/")
    assert url in group_page.content.decode()
    page = signed_in(world, "facilitator").get(url)

    assert page.status_code == 200
    text = page.content.decode()
    follow_up = text.split('id="follow-up"')[1].split('id="everyone"')[0]
    rose = world.members["member"].display_name
    jade = world.members["member2"].display_name
    assert rose in follow_up and "It has been a very hard week." in follow_up
    assert jade not in follow_up
    assert jade in text.split('id="everyone"')[1]
    reads = AuditEntry.objects.filter(action="checkin.read", target_id=str(room.session.pk))
    assert reads.count() == 1
    assert "hard week" not in str(list(reads.values()))

    for persona in ("member", "member2"):
        refused = signed_in(world, persona).get(url)
        assert refused.status_code in {403, 404}
        assert "hard week" not in refused.content.decode()
        assert (
            url
            not in signed_in(world, persona).get(f"/groups/{world.group_a.pk}/").content.decode()
        )
    assert AuditEntry.objects.filter(action="checkin.read").count() == 1
