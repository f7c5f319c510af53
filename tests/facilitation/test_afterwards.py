"""Afterwards (issue 16): the register, follow-ups, debrief and handover notes, and asking a
lead to talk after a hard session; what each persona may see, through the real services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.models import Attendance, Debrief, FollowUp, HandoverNote, TalkRequest
from groups.models import OrgRole
from project.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from project.models import AuditEntry
from tests.conftest import World, make_staff
from tests.facilitation.room import Room, make_room

pytestmark = pytest.mark.django_db

DEBRIEF = "Rose found the courts topic hard; I stayed after with her."
HANDOVER = "Start with grounding next time; Jade prefers to go last."


def enter(room: Room, persona: str) -> Any:
    context, _state = session_services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )
    return context


def end(room: Room) -> None:
    room.session = session_services.session_set_status(
        actor=room.world.users["facilitator"], session=room.session, status="ended"
    )


def raw(model: Any, column: str, pk: int) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk]
        )
        return str(cursor.fetchone()[0])


def a_session_with_everyone(world: World) -> tuple[Room, dict[str, Any]]:
    """Rose arrives struggling and asks for a minute, Jade steps out and leaves early."""
    room = make_room(world=world)
    contexts = {p: enter(room, p) for p in ("facilitator", "member", "member2")}
    session_services.checkin_set(
        actor=world.users["member"], context=contexts["member"], moment="in", mood="struggling"
    )
    session_services.support_request(
        actor=world.users["member"], context=contexts["member"], kind="minute"
    )
    session_services.presence_set(
        actor=world.users["member2"], context=contexts["member2"], status="stepped_out"
    )
    session_services.presence_set(
        actor=world.users["member2"], context=contexts["member2"], status="here"
    )
    session_services.room_leave(context=contexts["member2"])
    Attendance.objects.filter(session=room.session, membership=world.members["member2"]).update(
        left_at=timezone.now() - timedelta(minutes=20)
    )
    return room, contexts


def test_the_register_says_who_came_left_early_stepped_out_and_asked_for_support(world):
    room, _contexts = a_session_with_everyone(world)
    end(room)

    rows = {
        r.membership.display_name: r
        for r in session_services.register(viewer=world.users["facilitator"], session=room.session)
    }

    assert set(rows) == {"Sam", "Rose", "Jade"}
    assert rows["Jade"].left_early and rows["Jade"].stepped_out and not rows["Jade"].support
    assert not rows["Rose"].left_early and not rows["Rose"].stepped_out
    assert rows["Rose"].support == ("I need a minute",)
    assert room.session.ended_at is not None


def test_the_register_never_says_who_passed_in_a_round(world):
    room = make_room(world=world)
    contexts = {p: enter(room, p) for p in ("facilitator", "member", "member2")}
    before = session_services.register(viewer=world.users["facilitator"], session=room.session)
    session_services.round_start(
        actor=world.users["facilitator"], context=contexts["facilitator"], prompt="How are you?"
    )
    state = session_services.round_state(room.session.pk)
    first = next(p for p in ("member", "member2") if world.members[p].pk == state["current"])
    session_services.round_take_turn(actor=world.users[first], context=contexts[first], passed=True)

    after = session_services.register(viewer=world.users["facilitator"], session=room.session)

    assert after == before
    assert not any("pass" in field for field in type(after[0]).__dataclass_fields__)


def test_follow_ups_list_who_asked_or_struggled_and_a_tick_is_stored_and_audited(world):
    room, _contexts = a_session_with_everyone(world)
    end(room)
    facilitator = world.users["facilitator"]
    rows = session_services.follow_ups(viewer=facilitator, session=room.session)
    assert [r.membership.display_name for r in rows] == ["Rose"]
    assert rows[0].reasons == ("Asked for support: I need a minute", "Arrived struggling")
    rose = world.members["member"].pk

    session_services.follow_ups_save(actor=facilitator, session=room.session, done=[str(rose)])

    ticked = session_services.follow_ups(viewer=facilitator, session=room.session)[0]
    assert ticked.done_at is not None and ticked.done_by == world.members["facilitator"]
    assert AuditEntry.objects.filter(action="follow_up.done", extra__member_id=rose).count() == 1
    session_services.follow_ups_save(actor=facilitator, session=room.session, done=[])
    assert session_services.follow_ups(viewer=facilitator, session=room.session)[0].done_at is None


def test_ticking_someone_not_on_the_follow_up_list_changes_nothing(world):
    room, _contexts = a_session_with_everyone(world)
    end(room)
    jade = world.members["member2"].pk
    rose = world.members["member"].pk

    with pytest.raises(NotFound):
        session_services.follow_ups_save(
            actor=world.users["facilitator"], session=room.session, done=[str(rose), str(jade)]
        )

    assert not FollowUp.objects.exists()


def test_a_debrief_is_encrypted_at_rest_read_by_facilitators_and_leads_and_audited_without_text(
    world,
):
    room = make_room(world=world, status="ended")
    note = session_services.debrief_write(
        actor=world.users["facilitator"], session=room.session, body=DEBRIEF
    )

    stored = raw(Debrief, "body", note.pk)
    assert "courts" not in stored and DEBRIEF not in stored
    for persona in ("facilitator", "safeguarding_lead", "admin"):
        rows = session_services.debriefs_read(actor=world.users[persona], session=room.session)
        assert [r.body for r in rows] == [DEBRIEF]
    audit = list(AuditEntry.objects.filter(action__startswith="debrief.").values())
    assert {a["action"] for a in audit} == {"debrief.written", "debrief.read"}
    assert "courts" not in str(audit)


@pytest.mark.parametrize(
    "persona", ["member", "member2", "peer_mentor", "other_facilitator", "outsider"]
)
def test_debriefs_are_not_found_for_members_peer_mentors_and_other_groups(world, persona):
    room = make_room(world=world, status="ended")
    session_services.debrief_write(
        actor=world.users["facilitator"], session=room.session, body=DEBRIEF
    )

    with pytest.raises(NotFound):
        session_services.debriefs_read(actor=world.users[persona], session=room.session)
    with pytest.raises(NotFound):
        session_services.debrief_write(
            actor=world.users[persona], session=room.session, body="mine"
        )
    assert Debrief.objects.count() == 1


def test_a_debrief_waits_for_the_end_and_an_empty_one_is_refused(world):
    room = make_room(world=world)
    with pytest.raises(Conflict):
        session_services.debrief_write(
            actor=world.users["facilitator"], session=room.session, body=DEBRIEF
        )
    end(room)
    with pytest.raises(ValidationFailed):
        session_services.debrief_write(
            actor=world.users["facilitator"], session=room.session, body="   "
        )
    assert not Debrief.objects.exists()


def test_the_handover_note_is_encrypted_replaced_and_the_latest_shows_for_the_group(world):
    first = make_room(world=world, status="ended")
    facilitator = world.users["facilitator"]
    session_services.handover_write(actor=facilitator, session=first.session, body="Old news")
    note = session_services.handover_write(actor=facilitator, session=first.session, body=HANDOVER)

    assert HandoverNote.objects.count() == 1
    assert "grounding" not in raw(HandoverNote, "body", note.pk)
    latest = session_selectors.handover_latest(viewer=facilitator, group=world.group_a)
    assert latest is not None and latest.body == HANDOVER
    for persona in ("member", "peer_mentor", "other_facilitator"):
        assert (
            session_selectors.handover_latest(viewer=world.users[persona], group=world.group_a)
            is None
        )
    assert "grounding" not in str(list(AuditEntry.objects.values()))


def test_asking_to_talk_reaches_only_the_chosen_lead(world):
    room = make_room(world=world, status="ended")
    other_lead = make_staff("lead-2", OrgRole.SAFEGUARDING_LEAD)
    chosen = world.users["safeguarding_lead"]

    session_services.talk_request(
        actor=world.users["facilitator"], session=room.session, lead_id=str(chosen.pk)
    )

    mine = list(session_selectors.talk_requests_for(chosen))
    assert [(r.session, r.by) for r in mine] == [(room.session, world.members["facilitator"])]
    for someone in (other_lead, world.users["admin"], world.users["facilitator"]):
        assert not session_selectors.talk_requests_for(someone).exists()
    audit = AuditEntry.objects.get(action="talk.requested")
    assert audit.extra == {"lead_id": chosen.pk}


def test_asking_to_talk_needs_a_real_lead_and_a_host_of_the_session(world):
    room = make_room(world=world, status="ended")
    for lead_id in ("", "abc", str(world.users["admin"].pk), "999999"):
        with pytest.raises(ValidationFailed):
            session_services.talk_request(
                actor=world.users["facilitator"], session=room.session, lead_id=lead_id
            )
    lead_id = str(world.users["safeguarding_lead"].pk)
    for persona in ("member", "other_facilitator"):
        with pytest.raises(NotFound):
            session_services.talk_request(
                actor=world.users[persona], session=room.session, lead_id=lead_id
            )
    assert not TalkRequest.objects.exists()


def test_a_co_host_reads_the_register_of_her_session_but_no_follow_ups_or_debriefs(world):
    room, _contexts = a_session_with_everyone(world)
    end(room)
    mari = world.users["peer_mentor"]

    session, rights = session_services.summary_get_for(viewer=mari, session_id=room.session.pk)

    assert rights == {
        "register": True,
        "follow_ups": False,
        "debrief_read": False,
        "debrief_write": False,
        "talk": True,
    }
    assert len(session_services.register(viewer=mari, session=session)) == 3
    with pytest.raises(Forbidden):
        session_services.follow_ups(viewer=mari, session=session)
    with pytest.raises(NotFound):
        session_services.debriefs_read(actor=mari, session=session)


@pytest.mark.parametrize("persona", ["member", "other_facilitator", "outsider", "anonymous"])
def test_the_summary_is_not_found_for_members_and_other_groups(world, persona):
    room = make_room(world=world, status="ended")
    with pytest.raises(NotFound):
        session_services.summary_get_for(viewer=world.users[persona], session_id=room.session.pk)
    browser = Client()
    if world.users[persona] is not None:
        browser.force_login(world.users[persona])
        assert browser.get(f"/sessions/{room.session.pk}/summary/").status_code == 404
        assert browser.get(f"/groups/{world.group_a.pk}/past/").status_code in {403, 404}


def test_debriefs_over_rest_are_written_by_facilitators_read_by_leads_and_404_for_mentors(world):
    room = make_room(world=world, status="ended")
    path = f"/api/v1/sessions/{room.session.pk}/debriefs/"

    written = world.client("facilitator").post(path, {"body": DEBRIEF}, format="json")
    assert written.status_code == 201
    assert written.json()["body"] == DEBRIEF and written.json()["display_name"] == "Sam"
    read = world.client("safeguarding_lead").get(path)
    assert read.status_code == 200
    assert [r["body"] for r in read.json()["results"]] == [DEBRIEF]
    for persona in ("peer_mentor", "member", "other_facilitator"):
        refused = world.client(persona).get(path)
        assert refused.status_code == 404
        assert "courts" not in refused.content.decode()
    assert (
        world.client("safeguarding_lead").post(path, {"body": "x"}, format="json").status_code
        == 403
    )
    empty = world.client("facilitator").post(path, {"body": " "}, format="json")
    assert empty.status_code == 400 and "body" in empty.json()["extra"]["fields"]
    assert Debrief.objects.count() == 1
