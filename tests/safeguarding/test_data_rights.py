"""A member's own data: she can export everything Haven holds about her (other people only as
"another member") and erase her account; safeguarding records outlive her, anonymised."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from facilitation.models import Message
from groups.models import ApiToken, Membership, User
from project.models import AuditEntry
from safeguarding.models import Concern
from tests.conftest import PASSWORD, World
from tests.safeguarding import detail, live_room, move, post_message, raise_concern, reply

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/me/export/"
ERASE = "/api/v1/me/erase/"


def her_history(world: World) -> dict[str, Any]:
    """Rose (member) takes part, is talked about by nobody, and raises a concern about Jade."""
    room = live_room(world)
    mine = post_message(
        room,
        "member",
        "my own words tonight",
        content_warning={"category": "physical_violence", "note": "about last week"},
    )
    theirs = post_message(room, "member2", "words of someone else entirely")
    hosts = post_message(room, "facilitator", "welcome everyone, from the host")
    quoted = post_message(room, "member", "the message I pointed the concern at")
    concern_id = raise_concern(
        world,
        body="my concern in my own words",
        message_ids=[theirs.pk, quoted.pk],
        share_with_peer_mentors=True,
    )
    assert move(world, "facilitator", concern_id, "acknowledged", "a note for you").status_code == (
        200
    )
    assert reply(world, "member", concern_id, "my reply in the thread").status_code == 201
    assert (
        reply(world, "peer_mentor", concern_id, "a reply from her peer supporter").status_code
        == 201
    )
    return {
        "room": room,
        "mine": mine,
        "theirs": theirs,
        "hosts": hosts,
        "quoted": quoted,
        "concern_id": concern_id,
    }


def other_people(world: World) -> list[str]:
    """Names of everyone but Rose, as display names and usernames."""
    names = []
    for persona, membership in world.members.items():
        if persona != "member":
            names += [membership.display_name, membership.user.username]
    return names


# --- export ----------------------------------------------------------------------------------


def test_her_export_holds_her_account_groups_messages_concerns_and_acceptances(world):
    her_history(world)
    response = world.client("member").get(EXPORT)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["account"]["username"] == "rose"
    assert data["account"]["org_role"] == "none"
    assert [(g["group"], g["display_name"], g["role"]) for g in data["groups"]] == [
        ("Group A", "Rose", "member")
    ]
    assert [m["body"] for m in data["messages"]] == [
        "my own words tonight",
        "the message I pointed the concern at",
    ]
    assert data["messages"][0]["content_warning"] == {
        "category": "physical_violence",
        "note": "about last week",
    }
    [concern] = data["concerns"]
    assert concern["body"] == "my concern in my own words"
    assert concern["status"] == "acknowledged"
    assert concern["about"] == "another member"
    assert [(h["from"], h["to"], h["note_to_you"]) for h in concern["history"]] == [
        ("received", "acknowledged", "a note for you")
    ]
    assert [(r["from"], r["body"]) for r in concern["replies"]] == [
        ("you", "my reply in the thread"),
        ("the people handling it", "a reply from her peer supporter"),
    ]
    assert [(a["group"], a["version"]) for a in data["agreements_accepted"]] == [("Group A", 1)]


def test_her_export_holds_what_the_facilitators_told_her_of_a_pause_never_their_reason(world):
    from groups import services as group_services

    group_services.member_decide(
        actor=world.users["facilitator"],
        group=world.group_a,
        member_id=world.members["member"].pk,
        decision="pause",
        weeks=1,
        reason="Staff-only: shared another member's story outside",
        message="Take a week away; we look forward to seeing you.",
    )

    [decision] = world.client("member").get(EXPORT).json()["group_decisions"]

    assert decision["decision"] == "paused" and decision["group"] == "Group A"
    assert decision["message_to_you"] == "Take a week away; we look forward to seeing you."
    assert decision["until"] is not None
    assert "Staff-only" not in json.dumps(decision)


def test_her_export_names_nobody_else_and_holds_none_of_their_messages(world):
    her_history(world)
    dump = json.dumps(world.client("member").get(EXPORT).json())
    for name in other_people(world):
        assert name not in dump, name
    assert "Jade" not in dump
    assert "words of someone else entirely" not in dump
    assert "welcome everyone, from the host" not in dump
    assert "another member" in dump


def test_exporting_is_recorded_without_content(world):
    her_history(world)
    world.client("member").get(EXPORT)
    [entry] = AuditEntry.objects.filter(action="account.exported")
    assert entry.actor == world.users["member"]
    assert entry.extra == {}


def test_a_signed_out_caller_has_nothing_to_export(world):
    assert world.client("anonymous").get(EXPORT).status_code == 401


def test_another_member_s_export_holds_nothing_of_hers(world):
    her_history(world)
    dump = json.dumps(world.client("member2").get(EXPORT).json())
    assert "my concern in my own words" not in dump
    assert "my own words tonight" not in dump
    assert "Rose" not in dump
    assert json.loads(dump)["concerns"] == []


# --- erasure ---------------------------------------------------------------------------------


def snapshot(world: World) -> dict[str, Any]:
    return {
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "tokens": ApiToken.objects.count(),
        "messages": sorted(Message.objects.values_list("id", "body", "author_id", "purged_at")),
        "concerns": sorted(Concern.objects.values_list("id", "reporter_id")),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"password": "not her password", "confirm": True},
        {"password": PASSWORD, "confirm": False},
        {"password": PASSWORD},
        {"confirm": True},
        {"password": 12345, "confirm": True},
    ],
    ids=["wrong password", "not confirmed", "no confirm", "no password", "number as password"],
)
def test_erasing_without_her_password_and_confirmation_changes_nothing(world, body):
    her_history(world)
    before = snapshot(world)
    response = world.client("member").post(ERASE, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert snapshot(world) == before
    assert world.client("member").get("/api/v1/me/").status_code == 200


def test_erasing_her_account_removes_her_and_keeps_the_concern_anonymised(world):
    history = her_history(world)
    response = world.client("member").post(
        ERASE, {"password": PASSWORD, "confirm": True}, format="json"
    )
    assert response.status_code == 204
    assert not User.objects.filter(username="rose").exists()
    assert not Membership.objects.filter(display_name="Rose").exists()
    assert world.client("member").get("/api/v1/me/").status_code == 401
    assert world.client("member").get(EXPORT).status_code == 401

    mine = Message.objects.get(pk=history["mine"].pk)
    assert mine.body == "" and mine.cw_note == "" and mine.purged_at is not None
    assert mine.author_id is None
    quoted = Message.objects.get(pk=history["quoted"].pk)
    assert quoted.body == "the message I pointed the concern at"
    assert quoted.author_id is None and quoted.purged_at is None
    theirs = Message.objects.get(pk=history["theirs"].pk)
    assert theirs.body == "words of someone else entirely"
    assert theirs.author == world.members["member2"]

    concern = Concern.objects.get(pk=history["concern_id"])
    assert concern.reporter is None
    assert concern.body == "my concern in my own words"
    seen = detail(world, "facilitator", history["concern_id"])
    assert seen.status_code == 200
    assert seen.json()["reporter"] is None
    assert seen.json()["body"] == "my concern in my own words"
    assert seen.json()["raised_by_me"] is False
    assert detail(world, "peer_mentor", history["concern_id"]).status_code == 200
    assert [r["body"] for r in seen.json()["replies"]] == [
        "my reply in the thread",
        "a reply from her peer supporter",
    ]
    assert reply(world, "facilitator", history["concern_id"], "still handling it").status_code == (
        201
    )
    [erased] = AuditEntry.objects.filter(action="account.erased")
    assert erased.actor is None and erased.extra == {}


def test_after_erasure_her_name_and_username_are_nowhere_in_plain_text(world):
    her_history(world)
    response = world.client("member").post(
        ERASE, {"password": PASSWORD, "confirm": True}, format="json"
    )
    assert response.status_code == 204
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in apps.get_models():
            opts = model._meta
            if opts.proxy or not opts.managed:
                continue
            for field in opts.local_concrete_fields:
                if field.get_internal_type() not in {"CharField", "TextField", "JSONField"}:
                    continue
                cursor.execute(f"SELECT {quote(field.column)} FROM {quote(opts.db_table)}")
                for (value,) in cursor.fetchall():
                    text = value if isinstance(value, str) else json.dumps(value)
                    if text.startswith("fernet:"):
                        continue
                    if "Rose" in text or '"rose"' in text or text == "rose":
                        found.append((opts.db_table, field.column))
    assert found == []


def test_the_only_facilitator_of_a_group_cannot_erase_her_account(world):
    her_history(world)
    before = snapshot(world)
    response = world.client("facilitator").post(
        ERASE, {"password": PASSWORD, "confirm": True}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cannot_erase"
    assert snapshot(world) == before
    assert world.client("facilitator").get("/api/v1/me/").status_code == 200


def test_a_signed_out_caller_cannot_erase_anything(world):
    before = snapshot(world)
    response = world.client("anonymous").post(
        ERASE, {"password": PASSWORD, "confirm": True}, format="json"
    )
    assert response.status_code == 401
    assert snapshot(world) == before
