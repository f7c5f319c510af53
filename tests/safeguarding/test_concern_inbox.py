"""The inbox (issue 16): each concern to answer with its group, age and owner and "Take it";
urgent first, then by the time to answer by; staff escalate straight from Received; taking a
concern is for those who may move it, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from project.exceptions import Conflict, Forbidden, NotFound
from project.models import AuditEntry
from safeguarding import selectors, services
from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import CONCERNS, detail, move, raise_concern

pytestmark = pytest.mark.django_db


def page(world: World, persona: str, path: str = "/concerns/") -> str:
    client = Client()
    client.force_login(world.users[persona])
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def plain(world: World, urgency: str, *, persona: str = "member") -> int:
    return raise_concern(
        world, persona, category="my_wellbeing", about_member_id=None, urgency=urgency
    )


def test_urgent_concerns_come_first_then_by_their_answer_by_time(world: World) -> None:
    low = plain(world, "low")
    normal_later = plain(world, "normal")
    normal_sooner = plain(world, "normal", persona="member2")
    Concern.objects.filter(pk=normal_sooner).update(
        acknowledge_by=timezone.now() + timedelta(minutes=5)
    )
    urgent = plain(world, "urgent")
    rows = selectors.concern_inbox(viewer=world.users["facilitator"]).inbox
    assert [row.concern.pk for row in rows] == [urgent, normal_sooner, normal_later, low]
    listed = world.client("facilitator").get(CONCERNS).json()["results"]
    assert [row["id"] for row in listed] == [urgent, normal_sooner, normal_later, low]


def test_each_row_shows_the_group_the_age_and_nobody_yet_as_owner(world: World) -> None:
    concern_id = plain(world, "urgent")
    Concern.objects.filter(pk=concern_id).update(created_at=timezone.now() - timedelta(hours=2))
    text = page(world, "facilitator")
    row = text[text.index(f'data-concern="{concern_id}"') :]
    row = row[: row.index("</li>")]
    assert "Group A" in row
    assert "2\xa0hours ago" in row  # a no-break space keeps the number with its unit
    assert "Nobody yet" in row
    assert ">Take it</button>" in row
    assert "Urgent" in row


def test_taking_it_makes_her_the_owner_everyone_handling_it_sees(world: World) -> None:
    concern_id = plain(world, "urgent")
    client = Client()
    client.force_login(world.users["facilitator"])
    response = client.post(f"/concerns/{concern_id}/", {"action": "take", "back": "inbox"})
    assert response.status_code == 302
    assert response["Location"] == "/concerns/"
    assert Concern.objects.get(pk=concern_id).owner_id == world.users["facilitator"].pk
    row = page(world, "facilitator")
    row = row[row.index(f'data-concern="{concern_id}"') :]
    row = row[: row.index("</li>")]
    assert ">You<" in row
    assert "Take it" not in row
    entry = AuditEntry.objects.get(action="concern.taken")
    assert entry.actor_id == world.users["facilitator"].pk
    assert entry.extra == {"had_owner": False}
    # The lead handles it once escalated, and sees who took it, by her name in the group.
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    lead_view = detail(world, "safeguarding_lead", concern_id).json()
    assert lead_view["owner"] == {"user_id": world.users["facilitator"].pk, "display_name": "Sam"}
    assert "Sam" in page(world, "safeguarding_lead")


def test_taking_it_twice_writes_one_audit_row(world: World) -> None:
    concern_id = plain(world, "normal")
    for _ in range(2):
        services.concern_take(actor=world.users["facilitator"], concern_id=concern_id)
    assert AuditEntry.objects.filter(action="concern.taken").count() == 1


def test_only_those_who_may_move_a_concern_may_take_it(world: World) -> None:
    concern_id = raise_concern(
        world, category="my_wellbeing", about_member_id=None, share_with_peer_mentors=True
    )
    with pytest.raises(Forbidden):
        services.concern_take(actor=world.users["peer_mentor"], concern_id=concern_id)
    with pytest.raises(Forbidden):
        services.concern_take(actor=world.users["member"], concern_id=concern_id)
    for persona in ("member2", "other_facilitator", "safeguarding_lead", "admin"):
        with pytest.raises(NotFound):
            services.concern_take(actor=world.users[persona], concern_id=concern_id)
    assert Concern.objects.get(pk=concern_id).owner_id is None
    assert not AuditEntry.objects.filter(action="concern.taken").exists()
    assert "Take it" not in page(world, "peer_mentor", f"/concerns/{concern_id}/")


def test_a_closed_concern_cannot_be_taken(world: World) -> None:
    concern_id = plain(world, "normal")
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", concern_id, step).status_code == 200
    with pytest.raises(Conflict):
        services.concern_take(actor=world.users["facilitator"], concern_id=concern_id)
    response = world.client("facilitator").post(f"{CONCERNS}{concern_id}/take/")
    assert response.status_code == 409


def test_she_never_learns_who_on_the_staff_took_her_concern(world: World) -> None:
    concern_id = plain(world, "normal")
    services.concern_take(actor=world.users["facilitator"], concern_id=concern_id)
    mine = world.client("member").get(f"{CONCERNS}{concern_id}/").json()
    assert mine["owner"] is None
    assert mine["owner_id"] is None
    assert "Owner" not in page(world, "member", f"/concerns/{concern_id}/")


def test_a_handler_may_escalate_straight_from_received_and_the_lead_is_offered_it(
    world: World,
) -> None:
    concern_id = plain(world, "urgent")
    assert 'value="escalated"' in page(world, "facilitator", f"/concerns/{concern_id}/")
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    assert Concern.objects.get(pk=concern_id).status == "escalated"
    assert detail(world, "safeguarding_lead", concern_id).status_code == 200


def test_the_leads_new_to_you_list_sits_above_the_rest(world: World) -> None:
    concern_id = plain(world, "urgent")
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    text = page(world, "safeguarding_lead")
    assert text.index("New to you") < text.index(f'data-concern="{concern_id}"')
    assert "To answer" not in text
    page(world, "safeguarding_lead", f"/concerns/{concern_id}/")  # she opens it
    text = page(world, "safeguarding_lead")
    assert "New to you" not in text
    assert text.index("To answer") < text.index(f'data-concern="{concern_id}"')
    assert "New to you" not in page(world, "facilitator")
