"""The group page's support loop and private thread, and the settings page's "leaving quickly"
(issue 15): the page actions call the same services as REST; bad input answers 400 with a
GOV.UK error summary, keeps what she wrote and writes nothing; another group's member finds
nothing (404)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from facilitation import selectors as session_selectors
from facilitation.models import PrivateMessage, SupportRequest
from tests.conftest import World

pytestmark = pytest.mark.django_db

NOTE = "Someone from work keeps calling me"


def client_for(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def action(world: World, name: str) -> str:
    return f"/groups/{world.group_a.pk}/{name}/"


def page(world: World) -> str:
    return f"/groups/{world.group_a.pk}/"


def ask(client: Client, world: World, **fields: str) -> object:
    fields.setdefault("client_id", str(uuid.uuid4()))
    return client.post(action(world, "support"), fields)


def test_she_asks_for_support_from_the_group_page_and_sees_when_it_was_sent(world: World) -> None:
    rose = client_for(world, "member")
    response = ask(rose, world, kind="message_me", note=NOTE)
    assert response.status_code == 302
    assert response["Location"] == f"{page(world)}#support-sent"
    row = SupportRequest.objects.get()
    assert (row.kind, row.note, row.session_id, row.hosts_told) == ("message_me", NOTE, None, False)
    assert row.membership == world.members["member"]

    shown = rose.get(page(world)).content.decode()
    assert re.search(r"Sent at \d\d:\d\d to the group(&#x27;|')s facilitators\.", shown)
    assert "They will see it when they are next here." in shown
    # Asking for a private message opened her thread.
    assert "Write to the hosts" in shown
    # Shown once: the next visit has the form again.
    again = rose.get(page(world)).content.decode()
    assert "Sent at" not in again and "Send to the facilitators" in again


def test_the_same_form_sent_twice_is_one_request(world: World) -> None:
    rose = client_for(world, "member")
    client_id = str(uuid.uuid4())
    ask(rose, world, kind="minute", client_id=client_id)
    ask(rose, world, kind="minute", client_id=client_id)
    assert SupportRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message", "kept"),
    [
        ({"note": NOTE}, "Choose what you need.", NOTE),
        ({"kind": "sing", "note": NOTE}, "Choose what you need.", NOTE),
        (
            {"kind": "minute", "note": "x" * 501},
            "Your note must be 500 characters or fewer.",
            "x" * 501,
        ),
    ],
)
def test_bad_support_input_answers_400_with_the_errors_keeps_her_words_and_writes_nothing(
    world: World, fields: dict[str, str], message: str, kept: str
) -> None:
    rose = client_for(world, "member")
    response = ask(rose, world, **fields)
    assert response.status_code == 400
    shown = response.content.decode()
    assert "There is a problem" in shown and message in shown
    assert "<title>Error: " in shown
    assert f">{kept}</textarea>" in shown
    assert SupportRequest.objects.count() == 0


def test_a_member_of_another_group_finds_nothing(world: World) -> None:
    olga = client_for(world, "outsider")
    assert olga.get(page(world)).status_code == 404
    assert ask(olga, world, kind="not_safe").status_code == 404
    body = {"member_id": str(world.members["member"].pk), "client_id": str(uuid.uuid4())}
    assert olga.post(action(world, "private"), {**body, "body": "hi"}).status_code == 404
    rose = client_for(world, "member")
    ask(rose, world, kind="minute")
    row = SupportRequest.objects.get()
    taken = olga.post(action(world, "support_status"), {"request_id": row.pk, "status": "taken"})
    assert taken.status_code == 404
    assert SupportRequest.objects.get().status == "sent"
    assert PrivateMessage.objects.count() == 0


def test_the_facilitator_sees_the_request_takes_it_and_closes_it(world: World) -> None:
    rose = client_for(world, "member")
    ask(rose, world, kind="not_safe", note=NOTE)
    row = SupportRequest.objects.get()
    sam = client_for(world, "facilitator")
    shown = sam.get(page(world)).content.decode()
    assert "Support requests" in shown and NOTE in shown and "ll take this" in shown
    # Other members never see it.
    jade = client_for(world, "member2").get(page(world)).content.decode()
    assert NOTE not in jade

    taken = sam.post(action(world, "support_status"), {"request_id": row.pk, "status": "taken"})
    assert taken.status_code == 302 and taken["Location"].endswith("#support-requests")
    row.refresh_from_db()
    assert row.status == "taken" and row.taken_by == world.members["facilitator"]
    assert "Sam is with you." in rose.get(page(world)).content.decode()

    sam.post(action(world, "support_status"), {"request_id": row.pk, "status": "closed"})
    row.refresh_from_db()
    assert row.status == "closed"
    assert NOTE not in sam.get(page(world)).content.decode()


def test_a_member_cannot_take_a_request(world: World) -> None:
    rose = client_for(world, "member")
    ask(rose, world, kind="minute")
    row = SupportRequest.objects.get()
    jade = client_for(world, "member2")
    jade.post(action(world, "support_status"), {"request_id": row.pk, "status": "taken"})
    assert SupportRequest.objects.get().status == "sent"


def test_her_private_thread_both_ways_and_never_another_members(world: World) -> None:
    rose_id = str(world.members["member"].pk)
    rose = client_for(world, "member")
    sent = rose.post(
        action(world, "private"),
        {"member_id": rose_id, "client_id": str(uuid.uuid4()), "body": "Can we talk?"},
    )
    assert sent.status_code == 302 and sent["Location"].endswith("#private-sent")
    sam = client_for(world, "facilitator")
    listing = sam.get(page(world)).content.decode()
    assert f'href="?thread={rose_id}#private"' in listing and "Can we talk?" not in listing
    opened = sam.get(f"{page(world)}?thread={rose_id}").content.decode()
    assert "Can we talk?" in opened
    reply = sam.post(
        action(world, "private"),
        {"member_id": rose_id, "client_id": str(uuid.uuid4()), "body": "Yes, I am here."},
    )
    assert reply["Location"].endswith(f"?thread={rose_id}#private-sent")
    mine = rose.get(page(world)).content.decode()
    assert "Yes, I am here." in mine and "Sam" in mine

    jade = client_for(world, "member2")
    assert "Can we talk?" not in jade.get(page(world)).content.decode()
    refused = jade.post(
        action(world, "private"),
        {"member_id": rose_id, "client_id": str(uuid.uuid4()), "body": "Let me in"},
    )
    assert refused.status_code == 404
    assert PrivateMessage.objects.count() == 2


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_a_bad_private_message_answers_400_and_writes_nothing(world: World, body: str) -> None:
    rose = client_for(world, "member")
    response = rose.post(
        action(world, "private"),
        {
            "member_id": str(world.members["member"].pk),
            "client_id": str(uuid.uuid4()),
            "body": body,
        },
    )
    assert response.status_code == 400
    shown = response.content.decode()
    assert "There is a problem" in shown and 'href="#private-body"' in shown
    wanted = (
        "Write your message first."
        if not body.strip()
        else "Your message must be 2,000 characters or fewer."
    )
    assert wanted in shown
    assert PrivateMessage.objects.count() == 0


def test_a_missing_client_id_asks_her_to_press_again_and_keeps_her_note(world: World) -> None:
    rose = client_for(world, "member")
    response = rose.post(action(world, "support"), {"kind": "minute", "note": NOTE})
    assert response.status_code == 400
    shown = response.content.decode()
    assert "Please press the button again." in shown and f">{NOTE}</textarea>" in shown
    assert SupportRequest.objects.count() == 0


def test_the_settings_page_turns_leaving_quickly_off_and_keeps_the_warning_choices(
    world: World,
) -> None:
    rose = client_for(world, "member")
    user = world.users["member"]
    rose.post("/settings/", {"cw_sexual_violence": "show"})
    user.refresh_from_db()
    before = session_selectors.preferences_effective(user)
    assert before["tell_hosts_if_i_leave_quickly"] is True
    assert before["content_warnings"]["sexual_violence"] == "show"
    shown = rose.get("/settings/").content.decode()
    assert "Tell the hosts if I leave quickly" in shown
    assert re.search(r'id="tell-hosts"[^>]*checked', shown)

    rose.post("/settings/", {"action": "leave_quickly", "tell_hosts_if_i_leave_quickly": "0"})
    user.refresh_from_db()
    after = session_selectors.preferences_effective(user)
    assert after["tell_hosts_if_i_leave_quickly"] is False
    assert after["content_warnings"] == before["content_warnings"]
    assert not re.search(r'id="tell-hosts"[^>]*checked', rose.get("/settings/").content.decode())

    rose.post(
        "/settings/",
        {"action": "leave_quickly", "tell_hosts_if_i_leave_quickly": ["0", "1"]},
    )
    user.refresh_from_db()
    assert session_selectors.preferences_effective(user)["tell_hosts_if_i_leave_quickly"] is True
