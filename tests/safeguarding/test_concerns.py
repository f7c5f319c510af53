"""Raising a concern, and the answer loop: acknowledgement, the private thread, the status
moves a concern may make, escalation to the safeguarding leads and overdue concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from facilitation import services as session_services
from facilitation.models import Message
from groups import services as group_services
from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import (
    BODY,
    CONCERNS,
    concern_input,
    detail,
    live_room,
    move,
    post_message,
    raise_concern,
    reply,
    written,
)

pytestmark = pytest.mark.django_db


def group_b_message(world: World) -> Message:
    """A message in a live session of group B, where the member of group A has never been."""
    facilitator = world.users["other_facilitator"]
    group_services.agreement_publish(actor=facilitator, group=world.group_b, points=["Be kind"])
    now = timezone.now()
    session = session_services.session_create(
        actor=facilitator,
        group=world.group_b,
        title="B circle",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        kind="drop_in",
    )
    for step in ("open", "live"):
        session = session_services.session_set_status(
            actor=facilitator, session=session, status=step
        )
    context, _ = session_services.room_enter(actor=facilitator, session_id=session.pk)
    event, _ = session_services.message_post(
        actor=facilitator,
        context=context,
        body="welcome to group B",
        content_warning=None,
        client_id="6f2d4c1e-6a47-4f0c-9f59-0d1f3c2b7a10",
    )
    return Message.objects.get(pk=event["message_id"])


# --- raising ---------------------------------------------------------------------------------


def test_a_member_raises_a_concern_about_another_member_with_the_messages_she_means(world):
    room = live_room(world)
    first = post_message(room, "member2", "you should not have come tonight")
    second = post_message(room, "member2", "everyone here knows what you did")
    response = world.client("member").post(
        CONCERNS,
        concern_input(
            world,
            category="about_member",
            urgency="urgent",
            message_ids=[second.pk, first.pk],
            share_with_peer_mentors=True,
        ),
        format="json",
    )
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "status", "acknowledge_by"}
    assert created["status"] == "received"
    concern = Concern.objects.get(pk=created["id"])
    assert concern.reporter == world.members["member"]
    assert concern.group == world.group_a
    seen = detail(world, "facilitator", created["id"]).json()
    assert seen["body"] == BODY
    assert seen["category"] == "about_member"
    assert seen["urgency"] == "urgent"
    assert seen["share_with_peer_mentors"] is True
    assert seen["about"]["member_id"] == world.members["member2"].pk
    assert seen["message_ids"] == sorted([first.pk, second.pk])
    assert seen["reporter"]["member_id"] == world.members["member"].pk
    assert seen["history"] == [] and seen["replies"] == []


@pytest.mark.parametrize(("urgency", "hours"), [("urgent", 1), ("normal", 24), ("low", 72)])
def test_a_concern_should_be_acknowledged_within_the_time_its_urgency_sets(world, urgency, hours):
    moment = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        response = world.client("member").post(
            CONCERNS, concern_input(world, urgency=urgency), format="json"
        )
    assert response.status_code == 201
    assert parse_datetime(response.json()["acknowledge_by"]) == moment + timedelta(hours=hours)
    stored = Concern.objects.get(pk=response.json()["id"])
    assert stored.acknowledge_by - stored.created_at == timedelta(hours=hours)


def test_a_body_of_exactly_ten_thousand_characters_is_accepted(world):
    concern_id = raise_concern(world, body="x" * 10_000)
    assert len(Concern.objects.get(pk=concern_id).body) == 10_000


def test_urgency_defaults_to_normal_and_about_and_messages_are_optional(world):
    data = concern_input(world, category="my_wellbeing")
    del data["urgency"], data["about_member_id"]
    response = world.client("member").post(CONCERNS, data, format="json")
    assert response.status_code == 201
    concern = Concern.objects.get(pk=response.json()["id"])
    assert concern.urgency == "normal"
    assert concern.about is None
    assert not concern.messages.exists()
    assert concern.share_with_peer_mentors is False


BAD_INPUTS: dict[str, tuple[str, Any]] = {
    # name: (the field the error names, how to spoil the input)
    "an unknown category": ("category", lambda w, m: {"category": "gossip"}),
    "an unknown urgency": ("urgency", lambda w, m: {"urgency": "whenever"}),
    "a body over ten thousand characters": ("body", lambda w, m: {"body": "x" * 10_001}),
    "an empty body": ("body", lambda w, m: {"body": ""}),
    "a body of spaces": ("body", lambda w, m: {"body": "   \n "}),
    "a member of another group": (
        "about_member_id",
        lambda w, m: {"about_member_id": w.members["outsider"].pk},
    ),
    "herself": ("about_member_id", lambda w, m: {"about_member_id": w.members["member"].pk}),
    "a member who does not exist": ("about_member_id", lambda w, m: {"about_member_id": 987654}),
    "a message of another group's session": (
        "message_ids",
        lambda w, m: {"message_ids": [m["b"].pk]},
    ),
    "one good and one foreign message": (
        "message_ids",
        lambda w, m: {"message_ids": [m["a"].pk, m["b"].pk]},
    ),
    "a message id that does not exist": ("message_ids", lambda w, m: {"message_ids": [987654]}),
    "message_ids that are not a list": ("message_ids", lambda w, m: {"message_ids": m["a"].pk}),
    "message_ids that are a string": ("message_ids", lambda w, m: {"message_ids": "1,2"}),
    "more than twenty message ids": (
        "message_ids",
        lambda w, m: {"message_ids": [m["a"].pk] * 21},
    ),
    "a share choice that is not yes or no": (
        "share_with_peer_mentors",
        lambda w, m: {"share_with_peer_mentors": "perhaps"},
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_a_concern_with_bad_input_is_refused_with_field_errors_and_nothing_is_written(world, case):
    field, spoil = BAD_INPUTS[case]
    room = live_room(world)
    messages = {"a": post_message(room, "member2", "a message in group A"), "b": None}
    messages["b"] = group_b_message(world)
    before = written()
    response = world.client("member").post(
        CONCERNS, concern_input(world, **spoil(world, messages)), format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["extra"]["fields"]
    assert written() == before


def test_an_outsider_raising_a_concern_in_a_group_she_is_not_in_gets_not_found(world):
    before = written()
    response = world.client("outsider").post(CONCERNS, concern_input(world), format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    missing = world.client("member").post(
        CONCERNS, concern_input(world, group_id=987654), format="json"
    )
    assert missing.status_code == 404
    assert written() == before


def test_a_signed_out_caller_cannot_raise_a_concern(world):
    before = written()
    response = world.client("anonymous").post(CONCERNS, concern_input(world), format="json")
    assert response.status_code == 401
    assert written() == before


# --- the answer loop -------------------------------------------------------------------------


def test_a_facilitator_acknowledges_and_the_reporter_sees_it_with_the_note_to_her(world):
    concern_id = raise_concern(world)
    response = move(world, "facilitator", concern_id, "acknowledged", note="We have read it.")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    seen = detail(world, "member", concern_id)
    assert seen.status_code == 200
    body = seen.json()
    assert body["status"] == "acknowledged"
    assert body["my_role"] == "reporter"
    assert body["raised_by_me"] is True
    assert [(h["from_status"], h["to_status"], h["note_to_reporter"]) for h in body["history"]] == [
        ("received", "acknowledged", "We have read it.")
    ]
    assert Concern.objects.get(pk=concern_id).acknowledged_at is not None


def test_the_private_thread_runs_both_ways_and_marks_who_wrote(world):
    concern_id = raise_concern(world)
    from_her = reply(world, "member", concern_id, "It happened again last night.")
    assert from_her.status_code == 201
    assert from_her.json()["from_reporter"] is True and from_her.json()["mine"] is True
    from_them = reply(world, "facilitator", concern_id, "Thank you for telling us.")
    assert from_them.status_code == 201
    assert from_them.json()["from_reporter"] is False and from_them.json()["mine"] is True
    for persona, mine in (("member", [True, False]), ("facilitator", [False, True])):
        replies = detail(world, persona, concern_id).json()["replies"]
        assert [r["body"] for r in replies] == [
            "It happened again last night.",
            "Thank you for telling us.",
        ]
        assert [r["from_reporter"] for r in replies] == [True, False]
        assert [r["mine"] for r in replies] == mine


def test_an_empty_reply_is_refused_and_nothing_is_written(world):
    concern_id = raise_concern(world)
    before = written()
    response = reply(world, "member", concern_id, "  ")
    assert response.status_code == 400
    assert "body" in response.json()["extra"]["fields"]
    assert written() == before


SKIPPING_MOVES = [
    ([], "closed"),
    ([], "action_taken"),
    ([], "received"),
    (["acknowledged"], "closed"),
    (["acknowledged"], "acknowledged"),
    (["acknowledged", "action_taken"], "escalated"),
    (["acknowledged", "action_taken", "closed"], "acknowledged"),
]


@pytest.mark.parametrize(
    ("path", "wanted"),
    SKIPPING_MOVES,
    ids=[f"{p[-1] if p else 'received'}-to-{w}" for p, w in SKIPPING_MOVES],
)
def test_a_move_that_skips_a_state_is_refused_and_nothing_is_written(world, path, wanted):
    concern_id = raise_concern(world)
    for step in path:
        assert move(world, "facilitator", concern_id, step).status_code == 200
    current = Concern.objects.get(pk=concern_id).status
    before = written()
    response = move(world, "facilitator", concern_id, wanted, note="skipping ahead")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Concern.objects.get(pk=concern_id).status == current
    assert written() == before


def test_an_unknown_status_is_refused_as_invalid(world):
    concern_id = raise_concern(world)
    before = written()
    response = move(world, "facilitator", concern_id, "resolved")
    assert response.status_code == 400
    assert "status" in response.json()["extra"]["fields"]
    assert written() == before


def test_a_peer_mentor_she_shared_with_may_reply_but_not_move_its_status(world):
    concern_id = raise_concern(world, share_with_peer_mentors=True)
    before = written()
    response = move(world, "peer_mentor", concern_id, "acknowledged")
    assert response.status_code == 403
    assert written() == before
    assert Concern.objects.get(pk=concern_id).status == "received"
    answered = reply(world, "peer_mentor", concern_id, "I am here if you want to talk.")
    assert answered.status_code == 201
    assert answered.json()["from_reporter"] is False
    assert detail(world, "member", concern_id).json()["replies"][0]["body"] == (
        "I am here if you want to talk."
    )


def test_the_reporter_cannot_move_the_status_of_her_own_concern(world):
    concern_id = raise_concern(world)
    before = written()
    assert move(world, "member", concern_id, "acknowledged").status_code == 403
    assert written() == before


def test_a_closed_concern_takes_no_more_replies(world):
    concern_id = raise_concern(world)
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", concern_id, step).status_code == 200
    assert Concern.objects.get(pk=concern_id).closed_at is not None
    before = written()
    for persona in ("member", "facilitator"):
        response = reply(world, persona, concern_id, "one more thing")
        assert response.status_code == 409
        assert response.json()["code"] == "concern_closed"
    assert written() == before


def test_escalation_hands_the_concern_to_the_lead_who_can_act_and_close_it(world):
    concern_id = raise_concern(world)
    assert detail(world, "safeguarding_lead", concern_id).status_code == 404
    assert move(world, "safeguarding_lead", concern_id, "acknowledged").status_code == 404
    assert move(world, "facilitator", concern_id, "acknowledged").status_code == 200
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    seen = detail(world, "safeguarding_lead", concern_id)
    assert seen.status_code == 200
    assert seen.json()["my_role"] == "handler"
    assert seen.json()["status"] == "escalated"
    assert Concern.objects.get(pk=concern_id).escalated_at is not None
    acted = move(world, "safeguarding_lead", concern_id, "action_taken", note="We called you.")
    assert acted.status_code == 200
    closed = move(world, "safeguarding_lead", concern_id, "closed")
    assert closed.status_code == 200
    history = detail(world, "member", concern_id).json()["history"]
    assert [h["to_status"] for h in history] == [
        "acknowledged",
        "escalated",
        "action_taken",
        "closed",
    ]
    assert history[2]["note_to_reporter"] == "We called you."
    assert detail(world, "facilitator", concern_id).json()["status"] == "closed"


def test_an_unacknowledged_concern_past_its_time_is_listed_as_overdue_until_acknowledged(world):
    urgent = raise_concern(world, urgency="urgent")
    normal = raise_concern(world, urgency="normal")
    assert detail(world, "facilitator", urgent).json()["overdue"] is False
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = world.client("facilitator").get(f"{CONCERNS}?overdue=true")
        assert response.status_code == 200
        rows = response.json()["results"]
        assert [row["id"] for row in rows] == [urgent]
        assert rows[0]["overdue"] is True
        assert "body" not in rows[0]
        everything = world.client("facilitator").get(CONCERNS).json()["results"]
        assert {row["id"]: row["overdue"] for row in everything} == {urgent: True, normal: False}
        assert move(world, "facilitator", urgent, "acknowledged").status_code == 200
        again = world.client("facilitator").get(f"{CONCERNS}?overdue=true").json()
        assert again["count"] == 0 and again["results"] == []


def test_a_reporter_is_not_shown_her_own_concern_as_overdue_work(world):
    concern_id = raise_concern(world, urgency="urgent")
    Concern.objects.filter(pk=concern_id).update(
        acknowledge_by=timezone.now() - timedelta(minutes=5)
    )
    assert world.client("member").get(f"{CONCERNS}?overdue=true").json()["count"] == 0
    facilitator = world.client("facilitator").get(f"{CONCERNS}?overdue=true").json()
    assert [row["id"] for row in facilitator["results"]] == [concern_id]
