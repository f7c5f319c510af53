"""The session summary and Past sessions pages (issue 16): what each persona sees, the forms
with their GOV.UK errors, and the group page's handover note (through the template tag)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory

from facilitation import services as session_services
from facilitation.models import Debrief, FollowUp, HandoverNote, TalkRequest
from project.models import AuditEntry
from tests.conftest import World
from tests.facilitation.room import Room, make_room

pytestmark = pytest.mark.django_db

DEBRIEF = "It was a heavy evening; the courts came up twice."
DASH_HAVEN = "\N{EN DASH} Haven"


def browser_for(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def ended_with_rose_struggling(world: World, *, co_host: bool = True) -> Room:
    room = make_room(world=world, co_host=co_host)
    for persona, mood in (("facilitator", "good"), ("member", "struggling"), ("member2", "okay")):
        context, _state = session_services.room_enter(
            actor=world.users[persona], session_id=room.session.pk
        )
        session_services.checkin_set(
            actor=world.users[persona], context=context, moment="in", mood=mood
        )
    room.session = session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    return room


def test_the_facilitator_sees_the_register_and_follow_ups_and_saves_each_form(world):
    room = ended_with_rose_struggling(world)
    url = f"/sessions/{room.session.pk}/summary/"
    sam = browser_for(world, "facilitator")

    page = sam.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert f"<title>Session summary {DASH_HAVEN}</title>" in text
    register = text.split('id="register-h"')[1].split('id="follow-ups"')[0]
    assert "Rose" in register and "Jade" in register
    follow = text.split('id="follow-ups"')[1].split('id="debrief"')[0]
    assert "Rose" in follow and "Jade" not in follow
    rose = world.members["member"].pk

    assert sam.post(url, {"form": "follow_ups", "done": [str(rose)]}).status_code == 302
    assert FollowUp.objects.get(membership_id=rose).done_at is not None
    assert sam.post(url, {"form": "debrief", "body": DEBRIEF}).status_code == 302
    assert sam.post(url, {"form": "handover", "body": "Start gently."}).status_code == 302
    lead = world.users["safeguarding_lead"]
    assert sam.post(url, {"form": "talk", "lead": str(lead.pk)}).status_code == 302

    again = sam.get(url).content.decode()
    assert DEBRIEF in again and "Start gently." in again
    assert TalkRequest.objects.get().lead == lead
    assert "checked aria-" not in again  # the tick is an attribute of its own
    assert f'value="{rose}" id="done-{rose}" aria-describedby="why-{rose}" checked' in again
    group = sam.get(f"/groups/{world.group_a.pk}/past/").content.decode()
    assert url in group and f"/sessions/{room.session.pk}/checkins/" in group


def test_an_empty_debrief_shows_the_error_summary_and_writes_nothing(world):
    room = ended_with_rose_struggling(world)
    url = f"/sessions/{room.session.pk}/summary/"

    page = browser_for(world, "facilitator").post(url, {"form": "debrief", "body": "  "})

    assert page.status_code == 400
    text = page.content.decode()
    assert f"<title>Error: Session summary {DASH_HAVEN}</title>" in text
    assert 'href="#debrief-body"' in text and "Write your debrief note first." in text
    assert 'aria-invalid="true"' in text
    assert not Debrief.objects.exists()


def test_a_talk_request_without_a_lead_is_refused_on_the_page(world):
    room = ended_with_rose_struggling(world)
    page = browser_for(world, "facilitator").post(
        f"/sessions/{room.session.pk}/summary/", {"form": "talk", "lead": ""}
    )
    assert page.status_code == 400
    assert "Choose who you would like to talk to." in page.content.decode()
    assert not TalkRequest.objects.exists()


def test_the_lead_reads_debriefs_but_not_the_register_and_sees_who_asked_to_talk(world):
    room = ended_with_rose_struggling(world)
    lead = world.users["safeguarding_lead"]
    session_services.debrief_write(
        actor=world.users["facilitator"], session=room.session, body=DEBRIEF
    )
    session_services.talk_request(
        actor=world.users["facilitator"], session=room.session, lead_id=str(lead.pk)
    )

    text = (
        browser_for(world, "safeguarding_lead")
        .get(f"/sessions/{room.session.pk}/summary/")
        .content.decode()
    )

    assert DEBRIEF in text
    assert "Rose" not in text and "Jade" not in text
    assert 'id="register-h"' not in text and 'id="follow-ups"' not in text
    assert AuditEntry.objects.filter(action="debrief.read", actor_id=lead.pk).count() == 1
    request = RequestFactory().get("/")
    request.user = lead
    shown = Template("{% load afterwards %}{% talk_requests %}").render(
        Context({"request": request})
    )
    assert "Asked to talk to you" in shown and "Sam" in shown
    request.user = world.users["admin"]
    assert (
        Template("{% load afterwards %}{% talk_requests %}")
        .render(Context({"request": request}))
        .strip()
        == ""
    )


@pytest.mark.parametrize("persona", ["member", "peer_mentor", "other_facilitator", "outsider"])
def test_members_peer_mentors_and_other_groups_get_not_found(world, persona):
    room = ended_with_rose_struggling(world, co_host=False)
    session_services.debrief_write(
        actor=world.users["facilitator"], session=room.session, body=DEBRIEF
    )
    browser = browser_for(world, persona)
    url = f"/sessions/{room.session.pk}/summary/"
    for page in (browser.get(url), browser.post(url, {"form": "debrief", "body": "x"})):
        assert page.status_code == 404
        assert DEBRIEF not in page.content.decode()
    assert browser.get(f"/groups/{world.group_a.pk}/past/").status_code in {403, 404}
    assert Debrief.objects.count() == 1


def test_the_group_tag_shows_the_latest_handover_only_to_those_who_read_it(world):
    room = ended_with_rose_struggling(world)
    session_services.handover_write(
        actor=world.users["facilitator"], session=room.session, body="Bring tissues."
    )
    assert HandoverNote.objects.count() == 1
    template = Template("{% load afterwards %}{% group_afterwards group %}")
    request = RequestFactory().get("/")

    def shown(persona: str) -> str:
        request.user = world.users[persona]
        return template.render(Context({"request": request, "group": world.group_a}))

    for persona in ("facilitator", "safeguarding_lead", "admin"):
        assert "Bring tissues." in shown(persona)
        assert f"/groups/{world.group_a.pk}/past/" in shown(persona)
    for persona in ("member", "peer_mentor", "other_facilitator"):
        assert shown(persona).strip() == ""


def test_a_co_host_reads_the_register_of_her_session_but_never_a_debrief(world):
    room = ended_with_rose_struggling(world)
    session_services.debrief_write(
        actor=world.users["facilitator"], session=room.session, body=DEBRIEF
    )
    mari = browser_for(world, "peer_mentor")
    url = f"/sessions/{room.session.pk}/summary/"

    text = mari.get(url).content.decode()

    assert 'id="register-h"' in text and "Rose" in text
    assert DEBRIEF not in text and 'id="debrief"' not in text and 'id="follow-ups"' not in text
    assert mari.post(url, {"form": "debrief", "body": "x"}).status_code == 404
    assert mari.post(url, {"form": "handover", "body": "x"}).status_code == 404
    assert Debrief.objects.count() == 1
