"""What issue 15 stores is covered like every other record (ARCHITECTURE.md rules 6 and 7):
support requests' notes, private messages and check-in notes are emptied by retention, are in
her export (her side only, hosts not named), and go with her account on erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import CheckIn, PrivateMessage, PrivateThread, SupportRequest
from tests.conftest import PASSWORD, World
from tests.safeguarding import enter, live_room, purge_at

pytestmark = pytest.mark.django_db

SUPPORT_NOTE = "I am finding tonight very hard"


def her_support_request(world: World) -> SupportRequest:
    room = live_room(world)
    enter(room, "facilitator")
    return session_services.support_request(
        actor=world.users["member"], context=enter(room, "member"), note=SUPPORT_NOTE
    )


def test_a_support_note_past_retention_is_emptied_and_the_request_stays(world):
    request = her_support_request(world)
    from_the_group_page = session_services.support_ask(
        actor=world.users["member2"],
        group=world.group_a,
        kind="minute",
        note="still",
        client_id="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    )

    purge_at(timezone.now() + timedelta(days=world.group_a.retention_days, hours=1))

    request.refresh_from_db()
    from_the_group_page.refresh_from_db()
    assert request.note == "" and request.kind == "minute"
    assert from_the_group_page.note == ""
    purge_at(timezone.now())
    assert SupportRequest.objects.count() == 2


def test_a_support_note_inside_retention_is_kept(world):
    request = her_support_request(world)

    purge_at(timezone.now() + timedelta(days=1))

    request.refresh_from_db()
    assert request.note == SUPPORT_NOTE


def test_her_export_has_her_support_requests_without_naming_the_host(world):
    request = her_support_request(world)
    session_services.support_set_status_in_group(
        actor=world.users["facilitator"],
        group=world.group_a,
        request_id=request.pk,
        status="taken",
    )

    export = world.client("member").get("/api/v1/me/export/").json()

    assert export["support_requests"] == [
        {
            "group": "Group A",
            "session": "Evening circle",
            "kind": "minute",
            "note": SUPPORT_NOTE,
            "at": export["support_requests"][0]["at"],
            "hosts_told": True,
            "status": "taken",
        }
    ]
    assert "Sam" not in str(export["support_requests"])
    assert world.client("member2").get("/api/v1/me/export/").json()["support_requests"] == []


def test_erasing_her_account_deletes_her_support_requests(world):
    mine = her_support_request(world)

    response = world.client("member").post(
        "/api/v1/me/erase/", {"password": PASSWORD, "confirm": True}, format="json"
    )

    assert response.status_code == 204
    assert not SupportRequest.objects.filter(pk=mine.pk).exists()


def test_a_host_who_erases_her_account_leaves_the_requests_she_answered_unnamed(world):
    room = live_room(world)
    mentor = enter(room, "peer_mentor")
    theirs = session_services.support_request(
        actor=world.users["member2"], context=enter(room, "member2")
    )
    session_services.support_set_status(
        actor=world.users["peer_mentor"], context=mentor, request_id=theirs.pk, status="taken"
    )

    response = world.client("peer_mentor").post(
        "/api/v1/me/erase/", {"password": PASSWORD, "confirm": True}, format="json"
    )

    assert response.status_code == 204
    theirs.refresh_from_db()
    assert theirs.status == "taken" and theirs.taken_by is None


CHECKIN_NOTE = "Slept badly again"


def her_checkin(world: World):
    room = live_room(world)
    return session_services.checkin_set(
        actor=world.users["member"],
        context=enter(room, "member"),
        moment="in",
        mood="low",
        note=CHECKIN_NOTE,
    )


def test_a_checkin_note_past_retention_is_emptied_and_the_answer_stays(world):
    checkin = her_checkin(world)

    purge_at(timezone.now() + timedelta(days=1))
    checkin.refresh_from_db()
    assert checkin.note == CHECKIN_NOTE
    purge_at(timezone.now() + timedelta(days=world.group_a.retention_days, hours=1))

    checkin.refresh_from_db()
    assert checkin.note == "" and checkin.mood == "low"


def test_her_export_has_her_checkins_and_nobody_elses(world):
    her_checkin(world)

    export = world.client("member").get("/api/v1/me/export/").json()

    assert [(c["moment"], c["mood"], c["note"]) for c in export["checkins"]] == [
        ("in", "low", CHECKIN_NOTE)
    ]
    assert world.client("member2").get("/api/v1/me/export/").json()["checkins"] == []


def test_erasing_her_account_deletes_her_checkins(world):
    her_checkin(world)

    response = world.client("member").post(
        "/api/v1/me/erase/", {"password": PASSWORD, "confirm": True}, format="json"
    )

    assert response.status_code == 204
    assert not CheckIn.objects.exists()


PRIVATE_WORDS = "I could not say this in the group"


def her_thread(world: World):
    room = live_room(world)
    mentor = enter(room, "peer_mentor")
    mine = session_services.private_send(
        actor=world.users["member"],
        context=enter(room, "member"),
        client_id="2b4e28ba-2fa1-11d2-883f-0016d3cca427",
        body=PRIVATE_WORDS,
    )
    answer = session_services.private_send(
        actor=world.users["peer_mentor"],
        context=mentor,
        client_id="3b4e28ba-2fa1-11d2-883f-0016d3cca427",
        body="Thank you for telling me",
        member_id=world.members["member"].pk,
    )
    return mine, answer


def test_private_messages_past_retention_lose_their_text(world):
    mine, answer = her_thread(world)

    purge_at(timezone.now() + timedelta(days=1))
    mine.refresh_from_db()
    assert mine.body == PRIVATE_WORDS
    purge_at(timezone.now() + timedelta(days=world.group_a.retention_days, hours=1))

    mine.refresh_from_db()
    answer.refresh_from_db()
    assert mine.body == "" and answer.body == ""
    assert PrivateMessage.objects.count() == 2


def test_her_export_has_her_thread_with_the_host_unnamed_and_the_hosts_has_her_words_only(world):
    her_thread(world)

    export = world.client("member").get("/api/v1/me/export/").json()["private_messages"]
    host_export = world.client("peer_mentor").get("/api/v1/me/export/").json()["private_messages"]

    assert [(m["thread"], m["from"], m["body"]) for m in export] == [
        ("yours", "you", PRIVATE_WORDS),
        ("yours", "a host", "Thank you for telling me"),
    ]
    assert "Mari" not in str(export)
    assert [(m["thread"], m["from"], m["body"]) for m in host_export] == [
        ("another member", "you", "Thank you for telling me")
    ]
    assert world.client("member2").get("/api/v1/me/export/").json()["private_messages"] == []


def test_erasing_her_account_deletes_her_thread(world):
    her_thread(world)

    response = world.client("member").post(
        "/api/v1/me/erase/", {"password": PASSWORD, "confirm": True}, format="json"
    )

    assert response.status_code == 204
    assert not PrivateMessage.objects.exists() and not PrivateThread.objects.exists()


def test_a_host_who_erases_her_account_leaves_her_answers_unnamed_in_the_members_thread(world):
    _mine, answer = her_thread(world)

    response = world.client("peer_mentor").post(
        "/api/v1/me/erase/", {"password": PASSWORD, "confirm": True}, format="json"
    )

    assert response.status_code == 204
    answer.refresh_from_db()
    assert answer.author is None and answer.body == "Thank you for telling me"
