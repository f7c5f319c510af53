"""Agreements that do not lock people out mid-session (issue 16): the acceptance list says who
needs to accept which version, "Adopt" puts the point into the next version's draft, publishing
shows what changed first, a new version never applies to a session already open (the room and
its REST log decide by the same rule), and a member accepts at the room's door."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from facilitation import services as session_services
from facilitation.services.context import RoomRefused
from groups import selectors
from groups.models import Agreement, AgreementAcceptance, AgreementProposal
from groups.services.agreements import (
    agreement_accept,
    agreement_changes,
    agreement_preview,
    agreement_publish,
    proposal_create,
    proposal_decide,
)
from project.exceptions import Conflict, ValidationFailed
from project.models import AuditEntry
from tests.conftest import World
from tests.facilitation.room import Room, amake_room, connect, make_room

V1 = ["Be kind", "What is said here stays here"]
V2 = ["Be kind", "What is said here stays here", "No advice unless asked"]


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def publish(world: World, points: list[str]) -> Agreement:
    return agreement_publish(actor=world.users["facilitator"], group=world.group_a, points=points)


def counts() -> tuple[int, int, int]:
    return (
        Agreement.objects.count(),
        AgreementAcceptance.objects.count(),
        AuditEntry.objects.count(),
    )


def open_live(room: Room) -> None:
    for step in ("open", "live"):
        room.session = session_services.session_set_status(
            actor=room.world.users["facilitator"], session=room.session, status=step
        )


def admitted_in_room(room: Room, persona: str) -> bool:
    try:
        session_services.room_enter(actor=room.world.users[persona], session_id=room.session.pk)
    except RoomRefused as refused:
        assert refused.code == 4409
        return False
    return True


def admitted_over_rest(room: Room, persona: str) -> bool:
    answer = room.world.client(persona).get(f"/api/v1/sessions/{room.session.pk}/events/")
    if answer.status_code == 403:
        assert answer.json()["code"] == "agreement_required"
        return False
    assert answer.status_code == 200, answer.content
    return True


# --- the one rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted", "current", "at_opening", "admits"),
    [
        (None, None, None, True),  # no agreement: nothing to accept
        (None, 1, None, False),
        (1, 1, None, True),
        (1, 2, None, False),  # not yet open: the current version binds
        (1, 2, 1, True),  # open before version 2: version 1 binds
        (2, 2, 1, True),
        (1, 3, 2, False),
        (2, 3, 2, True),
    ],
)
def test_the_agreement_rule_binds_the_version_current_when_the_session_opened(
    accepted, current, at_opening, admits
):
    assert (
        selectors.agreement_admits(accepted=accepted, current=current, at_opening=at_opening)
        is admits
    )


def test_a_session_live_before_version_2_admits_a_member_who_accepted_version_1(world):
    room = make_room(world=world)
    publish(world, V2)

    assert admitted_in_room(room, "member") is True
    assert admitted_over_rest(room, "member") is True
    # And it stays so after a pause: the session opened once.
    for step in ("paused", "live"):
        session_services.session_set_status(
            actor=world.users["facilitator"], session=room.session, status=step
        )
    assert admitted_in_room(room, "member2") is True


def test_a_session_opened_after_version_2_needs_version_2_in_the_room_and_over_rest(world):
    room = make_room(world=world, status="scheduled")
    publish(world, V2)
    open_live(room)

    assert admitted_in_room(room, "member") is False
    assert admitted_over_rest(room, "member") is False
    assert admitted_in_room(room, "peer_mentor") is False  # a co-host too

    agreement_accept(actor=world.users["member"], group=world.group_a, version=2)

    assert admitted_in_room(room, "member") is True
    assert admitted_over_rest(room, "member") is True


@pytest.mark.parametrize("published", ["before_opening", "after_opening", "while_scheduled"])
@pytest.mark.parametrize("accepts_v2", [False, True])
def test_the_room_the_rest_log_and_the_group_page_agree(world, published, accepts_v2):
    from facilitation.agreements import agreement_admits_to

    room = make_room(world=world, status="scheduled")
    if published == "after_opening":
        open_live(room)
    publish(world, V2)
    if published == "before_opening":
        open_live(room)
    if accepts_v2:
        agreement_accept(actor=world.users["member"], group=world.group_a, version=2)
    expected = accepts_v2 or published == "after_opening"

    member = world.members["member"]
    assert agreement_admits_to(member, [room.session])[room.session.pk] is expected
    assert admitted_over_rest(room, "member") is expected
    if published != "while_scheduled":  # members wait outside a scheduled session anyway
        assert admitted_in_room(room, "member") is expected
    page = signed_in(world, "member").get(f"/groups/{world.group_a.pk}/").content.decode()
    if published != "while_scheduled":
        assert ("Read the agreement and enter" in page) is not expected


@pytest.mark.django_db(transaction=True)
async def test_the_room_socket_lets_in_a_member_of_a_session_that_opened_before_version_2():
    room = await amake_room()
    await database_sync_to_async(publish)(room.world, V2)

    client, state = await connect(room, room.world.tokens["member"])

    assert state is not None and state["session"]["status"] == "live"
    await client.close()


@pytest.mark.django_db(transaction=True)
async def test_the_room_socket_refuses_with_4409_a_session_opened_after_version_2():
    room = await amake_room(status="scheduled")
    await database_sync_to_async(publish)(room.world, V2)
    await database_sync_to_async(open_live)(room)

    client, state = await connect(room, room.world.tokens["member"])

    assert state is None and client.close_code == 4409


# --- adopt puts the point in the draft; publishing says what changed -------------------------


def adopt(world: World, text: str, status: str = "adopted") -> AgreementProposal:
    proposal = proposal_create(actor=world.users["member"], group=world.group_a, text=text)
    return proposal_decide(
        actor=world.users["facilitator"],
        group=world.group_a,
        proposal_id=proposal.pk,
        status=status,
    )


def test_an_adopted_point_appears_in_the_draft_of_the_next_version_and_a_declined_one_not(world):
    publish(world, V1)
    adopted = adopt(world, "No advice unless asked")
    adopt(world, "Cameras on", status="declined")
    facilitator = world.users["facilitator"]

    draft = selectors.agreement_draft(viewer=facilitator, group=world.group_a)

    assert draft == [*V1, "No advice unless asked"]
    assert selectors.agreement_drafted(viewer=facilitator, group=world.group_a) == {adopted.pk}

    agreement_publish(actor=facilitator, group=world.group_a, points=draft)

    assert selectors.agreement_draft(viewer=facilitator, group=world.group_a) == V2
    assert selectors.agreement_drafted(viewer=facilitator, group=world.group_a) == set()


def test_the_group_page_offers_the_draft_and_says_which_suggestion_is_in_it(world):
    publish(world, V1)
    adopt(world, "No advice unless asked")
    page = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/").content.decode()

    assert "1 adopted suggestion is in the draft." in page
    assert "in the draft of the next version" in page
    form = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/agreement/publish/")
    assert form.status_code == 200
    assert "Be kind\nWhat is said here stays here\nNo advice unless asked</textarea>" in (
        form.content.decode()
    )


def test_publishing_computes_what_changed_and_writes_nothing_before_the_confirmation(world):
    publish(world, ["Be kind", "Nobody has to share.", "Phones on silent."])
    before = counts()

    preview = agreement_preview(
        actor=world.users["facilitator"],
        group=world.group_a,
        points=["Be kind", "Nobody has to share anything.", "No advice unless asked"],
    )

    assert preview.version == 2
    assert preview.changes.added == ["No advice unless asked"]
    assert preview.changes.removed == ["Phones on silent."]
    assert preview.changes.reworded == [("Nobody has to share.", "Nobody has to share anything.")]
    assert counts() == before


def test_changes_read_added_removed_and_reworded_points_in_order():
    changes = agreement_changes(["A first point", "Second"], ["A first point!", "New", "Second"])

    assert changes.reworded == [("A first point", "A first point!")]
    assert changes.added == ["New"]
    assert changes.removed == []
    assert not agreement_changes(["Same"], ["Same"])


def test_bad_points_and_a_stale_confirmation_write_nothing(world):
    publish(world, V1)
    before = counts()
    facilitator = world.users["facilitator"]

    with pytest.raises(ValidationFailed):
        agreement_preview(actor=facilitator, group=world.group_a, points=[])
    with pytest.raises(ValidationFailed):
        agreement_publish(actor=facilitator, group=world.group_a, points=["x" * 501])
    with pytest.raises(Conflict):
        agreement_publish(actor=facilitator, group=world.group_a, points=V2, version=3)

    assert counts() == before


def test_the_publish_page_shows_what_changed_then_publishes_the_version_it_named(world):
    publish(world, V1)
    browser = signed_in(world, "facilitator")
    url = f"/groups/{world.group_a.pk}/agreement/publish/"
    text = "\n".join(V2)

    check = browser.post(url, {"points": text, "step": "check"})

    page = check.content.decode()
    assert check.status_code == 200
    assert "<title>Check the changes – Haven</title>" in page  # noqa: RUF001
    assert "Added" in page and "No advice unless asked" in page
    assert "Publish version 2" in page and "Go back" in page
    assert Agreement.objects.filter(group=world.group_a).count() == 1

    back = browser.post(url, {"points": text, "step": "back"})
    assert "No advice unless asked</textarea>" in back.content.decode()

    done = browser.post(url, {"points": text, "step": "publish", "version": "2"})
    assert done.status_code == 302
    assert done["Location"].endswith(f"/groups/{world.group_a.pk}/#agreement")
    assert selectors.agreement_current(world.group_a).points == V2


def test_the_publish_page_answers_bad_input_with_an_error_summary_and_writes_nothing(world):
    publish(world, V1)
    before = counts()
    browser = signed_in(world, "facilitator")
    url = f"/groups/{world.group_a.pk}/agreement/publish/"

    empty = browser.post(url, {"points": "  \n ", "step": "check"})
    stale = browser.post(url, {"points": "\n".join(V2), "step": "publish", "version": "7"})

    assert empty.status_code == 400
    assert 'class="error-summary"' in empty.content.decode()
    assert "Write at least one point." in empty.content.decode()
    assert stale.status_code == 409
    assert "Someone published a new version meanwhile" in stale.content.decode()
    assert counts() == before


@pytest.mark.parametrize("persona", ["member", "peer_mentor", "outsider"])
def test_only_those_who_publish_reach_the_publish_page(world, persona):
    publish(world, V1)
    url = f"/groups/{world.group_a.pk}/agreement/publish/"

    answer = signed_in(world, persona).get(url)
    posted = signed_in(world, persona).post(url, {"points": "Mine", "step": "publish"})

    assert answer.status_code == 404
    assert posted.status_code == 404
    assert Agreement.objects.count() == 1


# --- the acceptance list ---------------------------------------------------------------------


def test_the_acceptance_list_says_who_needs_to_accept_the_new_version_with_a_count(world):
    make_room(world=world)  # version 1, accepted by everyone
    publish(world, V2)  # the facilitator accepts version 2 by publishing it
    agreement_accept(actor=world.users["member"], group=world.group_a, version=2)
    rows = selectors.acceptance_list(viewer=world.users["facilitator"], group=world.group_a)

    page = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/").content.decode()

    listed = page.split('id="acc"')[1].split("</section>")[0]
    assert f"2 of {len(rows)} have accepted version 2" in listed
    rose = world.members["member"].display_name
    mentor = world.members["peer_mentor"].display_name
    assert f"{rose}: Accepted version 2" in listed
    assert (
        f'{mentor}: <span class="tag tag-warn acc-needs">Needs to accept version 2</span>' in listed
    )
    assert "version 1" not in listed


def test_members_do_not_see_the_acceptance_list(world):
    make_room(world=world)

    page = signed_in(world, "member").get(f"/groups/{world.group_a.pk}/").content.decode()

    assert 'id="acc"' not in page


# --- accepting at the room's door ------------------------------------------------------------


def test_a_member_reads_what_changed_at_the_room_door_and_accepting_lets_her_straight_in(world):
    room = make_room(world=world, status="scheduled")
    publish(world, V2)
    open_live(room)
    browser = signed_in(world, "member")
    url = f"/sessions/{room.session.pk}/room/"

    door = browser.get(url)

    page = door.content.decode()
    assert door.status_code == 200
    assert "<title>Before you enter – Haven</title>" in page  # noqa: RUF001
    assert "The group’s agreement has changed" in page  # noqa: RUF001
    assert "No advice unless asked" in page.split('id="changes"')[1].split("</div>")[0]
    assert "I accept version 2" in page
    assert "data-config" not in page

    accepted = browser.post(url, {"version": "2"})

    assert accepted.status_code == 302 and accepted["Location"] == url
    assert 'id="room"' in browser.get(url).content.decode()
    assert admitted_in_room(room, "member") is True


def test_a_stale_acceptance_at_the_door_shows_an_error_and_writes_nothing(world):
    room = make_room(world=world, status="scheduled")
    publish(world, V2)
    open_live(room)
    before = counts()

    answer = signed_in(world, "member").post(f"/sessions/{room.session.pk}/room/", {"version": "1"})

    assert answer.status_code == 409
    assert 'class="error-summary"' in answer.content.decode()
    assert "changed while you were reading" in answer.content.decode()
    assert counts() == before


def test_a_member_of_a_session_open_before_version_2_goes_straight_into_the_room(world):
    room = make_room(world=world)
    publish(world, V2)

    page = signed_in(world, "member").get(f"/sessions/{room.session.pk}/room/").content.decode()

    assert 'id="room"' in page
    assert "I accept" not in page
