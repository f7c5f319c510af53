"""The WebSocket half of the authorisation matrix: persona x room action, from one table.

Each row is checked twice: at the policy (`groups.policies.can` with the session) and over
the WebSocket through the full ASGI application. `peer_mentor` is a co-host; the
`non_cohost_mentor` persona is the same peer mentor in a session that does not name her.
Ending depends on who is in the room: `session.end` is tried with a facilitator present,
`session.end_alone` with none but (for that row's facilitator) herself.
"""

import uuid

import pytest
from channels.db import database_sync_to_async

from groups.policies import Action, can
from tests.facilitation.room import amake_room, connect, join

pytestmark = pytest.mark.django_db(transaction=True)

OK = "ok"
F = "forbidden"

# action → (policy action or None, {persona: expected})
TABLE: dict[str, tuple[Action | None, dict[str, str]]] = {
    "message.send": (
        None,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": OK, "member": OK},
    ),
    "message.hide": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "message.set_warning": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "member.mute": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "member.unmute": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "member.remove": (
        Action.SESSION_END,
        {"facilitator": OK, "peer_mentor": F, "non_cohost_mentor": F, "member": F},
    ),
    "session.pause": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "session.end": (
        Action.SESSION_END,
        {"facilitator": OK, "peer_mentor": F, "non_cohost_mentor": F, "member": F},
    ),
    "session.end_alone": (
        Action.SESSION_END,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "round.start": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "round.end": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "round.skip": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "round.next": (
        Action.SESSION_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    # Answering "I need support": the session's hosts (a co-host too), nobody else.
    **{
        frame: (
            Action.SUPPORT_MANAGE,
            {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
        )
        for frame in ("support.seen", "support.take", "support.close")
    },
    "checkin.set": (
        Action.CHECKIN_ANSWER,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": OK, "member": OK},
    ),
    "checkin.skip": (
        Action.CHECKIN_ANSWER,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": OK, "member": OK},
    ),
    # Writing in another member's private thread: the session's hosts only.
    "private.send": (
        Action.PRIVATE_HOST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": F, "member": F},
    ),
    "support.request": (
        Action.SUPPORT_REQUEST,
        {"facilitator": OK, "peer_mentor": OK, "non_cohost_mentor": OK, "member": OK},
    ),
}
# Whether a facilitator is in the room when the row is tried (the policy is asked the same).
FACILITATOR_PRESENT = {"session.end": True, "session.end_alone": False}

# Who may enter at all: close code, or OK.
ENTRY = {
    "facilitator": OK,
    "peer_mentor": OK,
    "member": OK,
    "anonymous": 4401,
    "deactivated": 4401,
    "outsider": 4404,
    "other_facilitator": 4404,
    "safeguarding_lead": 4404,
    "admin": 4403,
}

CASES = [
    (action, persona, expected)
    for action, (_policy, row) in TABLE.items()
    for persona, expected in row.items()
]


def persona_user(persona):
    return "peer_mentor" if persona == "non_cohost_mentor" else persona


async def act(room, client, action, helper):
    """Perform `action`; return the event that answers it."""
    target = room.member_id("member2")
    if action == "message.send":
        await client.say("hello")
        return await client.until_any({"ack", "error"})
    if action in {"message.hide", "message.set_warning"}:
        await helper.say("a message to moderate")
        message_id = (await helper.until("ack"))["message_id"]
        if action == "message.hide":
            await client.send(type="message.hide", message_id=message_id, reason="r")
            return await client.until_any({"message.hidden", "error"})
        await client.send(
            type="message.set_warning",
            message_id=message_id,
            content_warning={"category": "other", "note": "n"},
        )
        return await client.until_any({"message.warning_set", "error"})
    if action == "member.mute":
        await client.send(type="member.mute", member_id=target, minutes=5, reason="r")
        return await client.until_any({"member.muted", "error"})
    if action == "member.unmute":
        await client.send(type="member.unmute", member_id=target)
        return await client.until_any({"member.unmuted", "error"})
    if action == "member.remove":
        await client.send(type="member.remove", member_id=target, reason="r")
        return await client.until_any({"member.removed", "error"})
    if action == "session.pause":
        await client.send(type="session.set_status", status="paused", note="breathe")
        return await client.until_any({"session.status", "error"})
    if action in {"session.end", "session.end_alone"}:
        await client.send(type="session.set_status", status="ended")
        return await client.until_any({"session.status", "error"})
    if action == "round.start":
        await client.send(type="round.start", prompt="check in")
        return await client.until_any({"round.started", "error"})
    if action == "round.end":
        await helper_start_round(room)
        await client.send(type="round.end")
        return await client.until_any({"round.ended", "error"})
    if action in {"round.skip", "round.next"}:
        await helper_start_round(room)
        await client.send(type=action)
        return await client.until_any({"round.turn", "error"})
    if action == "private.send":
        await client.send(
            type="private.send", client_id=str(uuid.uuid4()), body="hello", member_id=target
        )
        return await client.until_any({"private.message", "error"})
    if action == "checkin.set":
        await client.send(type="checkin.set", moment="in", mood="okay")
        return await client.until_any({"checkin.saved", "error"})
    if action == "checkin.skip":
        await client.send(type="checkin.skip", moment="in")
        return await client.until_any({"checkin.skipped", "error"})
    if action == "support.request":
        await client.send(type="support.request", kind="minute")
        return await client.until_any({"support.sent", "error"})
    if action.startswith("support."):
        await helper.send(type="support.request")
        request_id = (await helper.until("support.sent"))["request_id"]
        await client.send(type=action, request_id=request_id)
        return await client.until_any({"support.updated", "error"})
    raise AssertionError(action)


async def helper_start_round(room):
    from facilitation import services

    def start():
        context, _state = services.room_enter(
            actor=room.world.users["facilitator"], session_id=room.session.pk
        )
        services.round_start(actor=room.world.users["facilitator"], context=context, prompt="p")

    await database_sync_to_async(start)()


@pytest.mark.parametrize(("action", "persona", "expected"), CASES)
async def test_room_action_matrix(action, persona, expected):
    room = await amake_room(co_host=persona != "non_cohost_mentor")
    policy_action = TABLE[action][0]
    user = room.world.users[persona_user(persona)]
    present = FACILITATOR_PRESENT.get(action)
    if policy_action is not None:
        allowed = await database_sync_to_async(can)(
            user, policy_action, session=room.session, facilitator_present=present
        )
        assert allowed is (expected == OK), f"policy: {persona} {action}"
    helper, _ = await join(room, "member2")
    facilitator = None
    if present and persona != "facilitator":
        facilitator, _ = await join(room, "facilitator")
    client, _ = await join(room, persona_user(persona))
    answer = await act(room, client, action, helper)
    if facilitator is not None:
        await facilitator.close()
    if expected == OK:
        assert answer["type"] != "error", f"{persona} {action}: {answer}"
    else:
        assert answer["type"] == "error" and answer["code"] == expected, f"{persona} {action}"
    await client.close()
    await helper.close()


@pytest.mark.parametrize(("persona", "expected"), ENTRY.items())
async def test_room_entry_matrix(persona, expected):
    room = await amake_room()
    client, state = await connect(room, room.world.tokens.get(persona))
    if expected == OK:
        assert state is not None
        await client.close()
    else:
        assert state is None and client.close_code == expected, persona


def test_every_host_action_the_room_accepts_has_a_row_in_the_table():
    from facilitation.consumers import SessionConsumer

    # Actions anyone present may take are covered in test_room_messages/test_room_moderation.
    anyone = {
        "resume",
        "presence.set",
        "round.pass",
        "round.done",
        "notice.dismiss",
    }
    in_table = {a for a in TABLE if not a.startswith("session.")} | {"session.set_status"}
    assert set(SessionConsumer.HANDLERS) - anyone == in_table
