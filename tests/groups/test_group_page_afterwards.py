"""The group page after a session (issue 16): its facilitators read the latest handover note
for the next facilitator and reach Past sessions; members and peer mentors see neither."""

from __future__ import annotations

import pytest
from django.test import Client

from facilitation import services as session_services
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

HANDOVER = "Start with the breathing exercise; Jade wants to lead the round next time."


def page_for(world: World, persona: str) -> str:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser.get(f"/groups/{world.group_a.pk}/").content.decode()


def test_the_next_facilitator_reads_the_handover_note_and_finds_past_sessions(world):
    room = make_room(world=world)
    fac = world.users["facilitator"]
    session_services.session_set_status(actor=fac, session=room.session, status="ended")
    room.session.refresh_from_db()
    session_services.handover_write(actor=fac, session=room.session, body=HANDOVER)

    facilitator = page_for(world, "facilitator")
    member = page_for(world, "member")
    mentor = page_for(world, "peer_mentor")

    assert HANDOVER in facilitator and f'href="/groups/{world.group_a.pk}/past/"' in facilitator
    assert facilitator.index("Handover note") < facilitator.index('id="sessions"')
    for other in (member, mentor):
        assert HANDOVER not in other and "/past/" not in other
