"""A member's record for staff (issue 16): joined when and with which invite (its staff-only
label), the sessions she came to, what hosts did about her in rooms, her support requests, the
pauses and removals with their staff-only reasons, and the concerns raised by and about her as
the concern policy lets the viewer see them. Facilitators and admins only (peer mentors are
members too); each visit is audited without any text."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from facilitation import services as session_services
from groups import services
from project.models import AuditEntry
from safeguarding import services as safeguarding_services
from tests.conftest import PASSWORD, World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

REASON = "Kept messaging a newer member privately"


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def history_url(world: World, persona: str) -> str:
    return f"/groups/{world.group_a.pk}/members/{world.members[persona].pk}/"


def section(text: str, anchor: str) -> str:
    return text.split(f'id="{anchor}"')[1].split("</section>")[0]


def test_facilitators_read_how_she_came_in_and_what_happened_since():
    room = make_room()
    world = room.world
    facilitator = world.users["facilitator"]
    _invite, code = services.invite_create(
        actor=facilitator, group=world.group_a, label="Outreach, Friday"
    )
    nina, _token = services.invite_redeem(
        actor=None, code=code, display_name="Nina", username="nina", password=PASSWORD
    )
    services.agreement_accept(actor=nina.user, group=world.group_a, version=1)
    session_services.room_enter(actor=nina.user, session_id=room.session.pk)
    host, _state = session_services.room_enter(actor=facilitator, session_id=room.session.pk)
    session_services.member_mute(
        actor=facilitator, context=host, member_id=nina.pk, minutes=5, reason="Calm down"
    )
    session_services.support_ask(
        actor=nina.user, group=world.group_a, kind="minute", client_id=str(uuid.uuid4())
    )
    services.member_decide(
        actor=facilitator,
        group=world.group_a,
        member_id=nina.pk,
        decision="pause",
        weeks=2,
        reason=REASON,
    )
    services.member_reinstate(actor=facilitator, group=world.group_a, member_id=nina.pk)

    page = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/members/{nina.pk}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "<title>Member history \u2013 Haven</title>" in text
    assert "Outreach, Friday" in section(text, "now-h")
    assert "Evening circle" in section(text, "sessions-h")
    moderation = section(text, "moderation-h")
    assert "Muted: <strong>1</strong>" in moderation
    assert "Support requests: <strong>1</strong>" in moderation
    decisions = section(text, "decisions-h")
    assert REASON in decisions and "Paused" in decisions and "Reinstated" in decisions
    assert "Calm down" not in text
    reads = AuditEntry.objects.filter(action="member.history_read", target_id=str(nina.pk))
    assert reads.count() == 1
    assert "newer member" not in str(list(reads.values()))


def test_concerns_by_and_about_her_follow_the_concern_policy(world):
    about_rose = safeguarding_services.concern_raise(
        actor=world.users["member2"],
        group_id=world.group_a.pk,
        category="about_member",
        body="She said something unkind",
        about_member_id=world.members["member"].pk,
    )
    by_rose = safeguarding_services.concern_raise(
        actor=world.users["member"],
        group_id=world.group_a.pk,
        category="my_wellbeing",
        body="I am not sleeping",
    )
    # How the group is run goes to the safeguarding leads alone: never to its facilitators.
    leads_only = safeguarding_services.concern_raise(
        actor=world.users["member"],
        group_id=world.group_a.pk,
        category="facilitation",
        body="The facilitator was rude",
    )

    text = signed_in(world, "facilitator").get(history_url(world, "member")).content.decode()

    concerns = section(text, "concerns-h")
    by, about = concerns.split("About her")
    assert f"/concerns/{by_rose.pk}/" in by
    assert f"/concerns/{about_rose.pk}/" in about
    assert f"/concerns/{leads_only.pk}/" not in text
    for words in ("unkind", "not sleeping", "rude"):
        assert words not in text


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("member", 404),  # removed: the group is no longer hers to see
        ("member2", 403),
        ("peer_mentor", 403),
        ("safeguarding_lead", 403),
        ("outsider", 404),
        ("other_facilitator", 404),
    ],
)
def test_nobody_but_the_groups_facilitators_and_admins_reads_a_record(world, persona, status):
    services.member_decide(
        actor=world.users["facilitator"],
        group=world.group_a,
        member_id=world.members["member"].pk,
        decision="remove",
        reason=REASON,
    )

    page = signed_in(world, persona).get(history_url(world, "member"))

    assert page.status_code == status
    assert REASON not in page.content.decode()
    assert not AuditEntry.objects.filter(action="member.history_read").exists()


def test_an_admin_reads_a_record_and_a_removed_members_record_stays_readable(world):
    services.member_decide(
        actor=world.users["facilitator"],
        group=world.group_a,
        member_id=world.members["member"].pk,
        decision="remove",
        reason=REASON,
    )

    for persona in ("facilitator", "admin"):
        page = signed_in(world, persona).get(history_url(world, "member"))
        assert page.status_code == 200
        assert REASON in page.content.decode()


def test_an_id_from_another_group_is_not_found(world):
    url = f"/groups/{world.group_a.pk}/members/{world.members['outsider'].pk}/"

    assert signed_in(world, "facilitator").get(url).status_code == 404
    assert signed_in(world, "facilitator").get(url + "remove/").status_code == 404


def test_the_group_page_links_each_member_to_her_record_for_facilitators_only(world):
    link = history_url(world, "member")

    assert (
        link in signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/").content.decode()
    )
    for persona in ("member", "peer_mentor"):
        page = signed_in(world, persona).get(f"/groups/{world.group_a.pk}/")
        assert link not in page.content.decode()
