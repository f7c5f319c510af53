"""Straight to the safeguarding lead (issue 17): "about a host or how the group is run" is a
choice on the raise form and in the room's dialog; the form says where it will go before she
sends it, and such a concern reaches the leads from the start, never the group's hosts. It is the
one rule of `safeguarding.policies.LEADS_ONLY`, not a second one."""

from __future__ import annotations

import pytest
from django.test import Client

from safeguarding.models import Concern
from safeguarding.policies import LEADS_ONLY
from tests.conftest import World
from tests.safeguarding import BODY, CONCERNS, detail, listed, raise_concern, written

pytestmark = pytest.mark.django_db


def signed_in(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def form(world: World, **overrides: str) -> dict[str, str]:
    data = {
        "group_id": str(world.group_a.pk),
        "to": "lead",
        "category": "other",
        "body": BODY,
        "urgency": "normal",
    }
    data.update(overrides)
    return data


def test_a_concern_sent_to_the_lead_reaches_the_leads_and_not_the_group(world: World) -> None:
    response = signed_in(world, "member").post(
        "/concerns/new/", form(world, share_with_peer_mentors="on")
    )
    concern = Concern.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/concerns/{concern.pk}/"
    assert concern.leads_from_start
    assert concern.category == LEADS_ONLY["category"]
    assert not concern.share_with_peer_mentors
    assert concern.pk in listed(world, "safeguarding_lead")
    for persona in ("facilitator", "peer_mentor", "member2"):
        assert concern.pk not in listed(world, persona)
        assert detail(world, persona, concern.pk).status_code == 404
    assert detail(world, "safeguarding_lead", concern.pk).json()["my_role"] == "handler"
    page = signed_in(world, "member").get(f"/concerns/{concern.pk}/").content.decode()
    assert "It went to the safeguarding lead only." in page


def test_over_rest_to_lead_is_the_same_route(world: World) -> None:
    concern_id = raise_concern(world, to_lead=True, category="my_wellbeing", about_member_id=None)
    assert detail(world, "facilitator", concern_id).status_code == 404
    assert detail(world, "safeguarding_lead", concern_id).status_code == 200
    assert Concern.objects.get(pk=concern_id).category == LEADS_ONLY["category"]


def test_a_concern_for_the_group_still_goes_to_its_facilitators(world: World) -> None:
    signed_in(world, "member").post("/concerns/new/", form(world, to="group"))
    concern = Concern.objects.get()
    assert not concern.leads_from_start and concern.category == "other"
    assert concern.pk in listed(world, "facilitator")
    assert concern.pk not in listed(world, "safeguarding_lead")


def test_the_form_says_where_it_will_go_before_she_sends_it(world: World) -> None:
    text = signed_in(world, "member").get("/concerns/").content.decode()
    assert "Who should it go to?" in text
    assert "The safeguarding lead" in text
    assert "About a host or how the group is run." in text
    assert "It will go to: the group’s facilitators." in text  # noqa: RUF001
    assert "It will go to: the group’s facilitators and peer mentors." in text  # noqa: RUF001
    assert "It will go to: the safeguarding lead only." in text
    # The leads-only category is the route choice, not a second way to pick it.
    assert f'<option value="{LEADS_ONLY["category"]}"' not in text


def test_the_room_dialog_offers_the_lead_and_says_where_it_goes(world: World) -> None:
    from tests.safeguarding import live_room

    room = live_room(world)
    text = signed_in(world, "member").get(f"/sessions/{room.session.pk}/room/").content.decode()
    dialog = text[
        text.index('id="concern-dialog"') : text.index(
            "</dialog>", text.index('id="concern-dialog"')
        )
    ]
    assert 'id="concern-to-lead"' in dialog
    assert "It will go to: the safeguarding lead only." in dialog
    assert "We aim to answer an urgent concern within 1 hour." in dialog


@pytest.mark.parametrize(
    ("change", "field_id"),
    [
        ({"body": "   "}, "c-body"),
        ({"to": "nobody"}, "c-to-group"),
        ({"to": "group", "category": "nonsense"}, "c-cat"),
        ({"urgency": "tomorrow"}, "c-urg"),
    ],
)
def test_bad_input_answers_400_with_an_error_summary_keeps_the_form_and_writes_nothing(
    world: World, change: dict[str, str], field_id: str
) -> None:
    before = written()
    data = form(world, body="Kept words", **{k: v for k, v in change.items() if k != "body"})
    if "body" in change:
        data["body"] = change["body"]
    response = signed_in(world, "member").post("/concerns/new/", data)
    assert response.status_code == 400
    text = response.content.decode()
    assert 'class="error-summary"' in text
    assert f'href="#{field_id}"' in text
    assert "<title>Error: Concerns \N{EN DASH} Haven</title>" in text
    if "body" not in change:
        assert "Kept words</textarea>" in text
    assert written() == before


def test_rest_refuses_a_to_lead_that_is_not_a_boolean(world: World) -> None:
    before = written()
    response = world.client("member").post(
        CONCERNS,
        {"group_id": world.group_a.pk, "category": "other", "body": BODY, "to_lead": "maybe"},
        format="json",
    )
    assert response.status_code == 400
    assert "to_lead" in response.json()["extra"]["fields"]
    assert written() == before
