"""The overview (issue 16, the lead's view): every group at a glance for safeguarding leads and
admins: open, urgent and overdue concerns as counts; the week's sessions, which are running and
whether a host is in; who facilitates each group; each facilitator's load. Never a concern's
text or a member's name; anyone else gets 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from facilitation import services as session_services
from safeguarding import services as safeguarding_services
from safeguarding.models import Concern
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

CONCERN_TEXT = "Someone from the group is waiting outside my flat."


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def raise_concern(world: World, urgency: str) -> Concern:
    return safeguarding_services.concern_raise(
        actor=world.users["member"],
        group_id=world.group_a.pk,
        category="my_wellbeing",
        body=CONCERN_TEXT,
        urgency=urgency,
    )


def glance(page, name: str):
    return next(g for g in page.context["glances"] if g.group.name == name)


def test_a_lead_sees_counts_sessions_hosts_and_load_but_no_text_or_names(world):
    urgent = raise_concern(world, "urgent")
    raise_concern(world, "normal")
    Concern.objects.filter(pk=urgent.pk).update(acknowledge_by=timezone.now() - timedelta(hours=2))
    room = make_room(world=world)  # live, in group A
    session_services.room_enter(actor=world.users["member"], session_id=room.session.pk)

    page = signed_in(world, "safeguarding_lead").get("/overview/")

    assert page.status_code == 200
    a = glance(page, "Group A")
    assert (a.concerns.open, a.concerns.urgent, a.concerns.overdue) == (2, 1, 1)
    [session] = [s for s in a.sessions if s.session_id == room.session.pk]
    assert session.status == "live" and not session.host_present and a.unhosted == 1
    assert [u.username for u in a.facilitators] == ["fac-a"]
    # The group that needs looking at comes first.
    assert page.context["glances"][0].group.name == "Group A"
    text = page.content.decode()
    assert CONCERN_TEXT not in text and "Rose" not in text
    assert "no host in the room" in text


def test_a_host_in_the_room_shows_and_a_taken_concern_counts_for_its_owner(world):
    concern = raise_concern(world, "normal")
    safeguarding_services.concern_take(actor=world.users["facilitator"], concern_id=concern.pk)
    room = make_room(world=world)
    session_services.room_enter(actor=world.users["facilitator"], session_id=room.session.pk)

    page = signed_in(world, "admin").get("/overview/")

    [session] = [s for s in glance(page, "Group A").sessions if s.session_id == room.session.pk]
    assert session.host_present
    load = {row.person.username: row for row in page.context["load"]}
    assert load["fac-a"].concerns_taken == 1 and load["fac-a"].groups == 1
    assert load["fac-b"].concerns_taken == 0


@pytest.mark.parametrize("persona", ["member", "peer_mentor", "facilitator", "outsider"])
def test_anyone_but_leads_and_admins_gets_404(world, persona):
    assert signed_in(world, persona).get("/overview/").status_code == 404
    assert Client().get("/overview/").status_code == 302


def test_the_lead_a_host_asked_to_talk_to_sees_it_on_her_overview_and_nobody_else_does(world):
    room = make_room(world=world)
    session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    session_services.talk_request(
        actor=world.users["facilitator"],
        session=room.session,
        lead_id=world.users["safeguarding_lead"].pk,
    )

    hers = signed_in(world, "safeguarding_lead").get("/overview/").content.decode()
    admins = signed_in(world, "admin").get("/overview/").content.decode()

    assert "Asked to talk to you" in hers and "Sam" in hers
    assert f"/sessions/{room.session.pk}/summary/" in hers
    assert "Asked to talk to you" not in admins


@pytest.mark.parametrize(
    ("persona", "links"),
    [
        ("admin", ["/overview/", "/audit/", "/staff/"]),
        ("safeguarding_lead", ["/overview/", "/audit/"]),
        ("facilitator", []),
        ("member", []),
    ],
)
def test_the_navigation_offers_the_organisation_pages_to_those_who_may_open_them(
    world, persona, links
):
    page = signed_in(world, persona).get("/groups/").content.decode()
    nav = page[page.index('<nav class="site-nav"') : page.index("</nav>")]

    shown = [path for path in ("/overview/", "/audit/", "/staff/") if f'href="{path}"' in nav]

    assert shown == links


def test_the_lead_also_reads_who_asked_to_talk_to_her_on_her_concerns_page(world):
    room = make_room(world=world)
    session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    session_services.talk_request(
        actor=world.users["facilitator"],
        session=room.session,
        lead_id=world.users["safeguarding_lead"].pk,
    )

    hers = signed_in(world, "safeguarding_lead").get("/concerns/").content.decode()
    facilitator = signed_in(world, "facilitator").get("/concerns/").content.decode()

    assert "Asked to talk to you" in hers
    assert "Asked to talk to you" not in facilitator
