"""Sensitive text is encrypted at rest (ARCHITECTURE.md rule 6): the raw columns hold Fernet
tokens, key rotation keeps everything readable, and an unknown key fails loudly."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from facilitation import services as session_services
from facilitation.models import Message, Participant
from project.crypto import reset_keys
from safeguarding.models import Concern, ConcernReply, ConcernStatusChange
from tests.conftest import World
from tests.safeguarding import enter, live_room, move, post_message, raise_concern, reply

pytestmark = pytest.mark.django_db

TEXTS = {
    "concern": "Plain concern: he waits for me outside the building.",
    "reply": "Plain reply: it happened again on Tuesday.",
    "note": "Plain note to her: we have spoken to him.",
    "message": "Plain message: I finally told my sister.",
    "cw_note": "Plain warning note: mentions a hospital stay.",
    "mute": "Plain mute reason: please slow down a little.",
}


@dataclass
class Written:
    concern_id: int
    reply_id: int
    change_id: int
    message_id: int
    participant_id: int


# (table, column, how to find the row, the text that went in)
def columns(w: Written) -> list[tuple[str, str, int, str]]:
    return [
        ("safeguarding_concern", "body", w.concern_id, TEXTS["concern"]),
        ("safeguarding_concernreply", "body", w.reply_id, TEXTS["reply"]),
        ("safeguarding_concernstatuschange", "note_to_reporter", w.change_id, TEXTS["note"]),
        ("facilitation_message", "body", w.message_id, TEXTS["message"]),
        ("facilitation_message", "cw_note", w.message_id, TEXTS["cw_note"]),
        ("facilitation_participant", "mute_reason", w.participant_id, TEXTS["mute"]),
    ]


def raw(table: str, column: str, row_id: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def write_everything(world: World) -> Written:
    room = live_room(world)
    message = post_message(
        room,
        "member",
        TEXTS["message"],
        content_warning={"category": "physical_violence", "note": TEXTS["cw_note"]},
    )
    session_services.member_mute(
        actor=world.users["facilitator"],
        context=enter(room, "facilitator"),
        member_id=world.members["member2"].pk,
        minutes=5,
        reason=TEXTS["mute"],
    )
    concern_id = raise_concern(world, body=TEXTS["concern"], message_ids=[message.pk])
    assert reply(world, "member", concern_id, TEXTS["reply"]).status_code == 201
    assert move(world, "facilitator", concern_id, "acknowledged", TEXTS["note"]).status_code == 200
    return Written(
        concern_id=concern_id,
        reply_id=ConcernReply.objects.get(concern_id=concern_id).pk,
        change_id=ConcernStatusChange.objects.get(concern_id=concern_id).pk,
        message_id=message.pk,
        participant_id=Participant.objects.get(
            session=room.session, membership=world.members["member2"]
        ).pk,
    )


def read_back(w: Written) -> dict[str, str]:
    message = Message.objects.get(pk=w.message_id)
    return {
        "concern": Concern.objects.get(pk=w.concern_id).body,
        "reply": ConcernReply.objects.get(pk=w.reply_id).body,
        "note": ConcernStatusChange.objects.get(pk=w.change_id).note_to_reporter,
        "message": message.body,
        "cw_note": message.cw_note,
        "mute": Participant.objects.get(pk=w.participant_id).mute_reason,
    }


@pytest.fixture
def use_keys() -> Iterator[Callable[..., None]]:
    """Set FIELD_ENCRYPTION_KEYS (newest first) for the rest of the test; restored after."""
    overrides: list[override_settings] = []

    def use(*keys: str) -> None:
        override = override_settings(FIELD_ENCRYPTION_KEYS=list(keys))
        override.enable()
        overrides.append(override)
        reset_keys()

    yield use
    for override in reversed(overrides):
        override.disable()
    reset_keys()


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_every_sensitive_column_holds_a_fernet_token_and_never_the_plain_text(world):
    written = write_everything(world)
    for table, column, row_id, text in columns(written):
        stored = raw(table, column, row_id)
        assert stored.startswith("fernet:"), (table, column)
        assert text not in stored
        assert text.split(": ", 1)[1] not in stored
    assert read_back(written) == TEXTS


def test_the_same_text_written_twice_is_stored_as_two_different_tokens(world):
    first = raise_concern(world, body="the same words")
    second = raise_concern(world, body="the same words")
    a = raw("safeguarding_concern", "body", first)
    b = raw("safeguarding_concern", "body", second)
    assert a != b
    assert Concern.objects.get(pk=first).body == Concern.objects.get(pk=second).body


def test_rotating_to_a_new_key_keeps_everything_readable_after_the_old_key_is_dropped(
    world, use_keys
):
    key_a, key_b = new_key(), new_key()
    use_keys(key_a)
    written = write_everything(world)
    for table, column, row_id, _text in columns(written):
        token = raw(table, column, row_id).removeprefix("fernet:").encode()
        Fernet(key_a).decrypt(token)  # written under A
    use_keys(key_b, key_a)
    call_command("rotate_field_keys", stdout=io.StringIO())
    for table, column, row_id, text in columns(written):
        token = raw(table, column, row_id).removeprefix("fernet:").encode()
        assert Fernet(key_b).decrypt(token).decode() == text  # now under B
        with pytest.raises(InvalidToken):
            Fernet(key_a).decrypt(token)
    use_keys(key_b)
    assert read_back(written) == TEXTS
    answer = raise_concern(world, body="written after the rotation")
    assert Concern.objects.get(pk=answer).body == "written after the rotation"


def test_rotating_twice_is_harmless(world, use_keys):
    key_a, key_b = new_key(), new_key()
    use_keys(key_a)
    written = write_everything(world)
    use_keys(key_b, key_a)
    call_command("rotate_field_keys", stdout=io.StringIO())
    call_command("rotate_field_keys", "--batch", "1", stdout=io.StringIO())
    use_keys(key_b)
    assert read_back(written) == TEXTS


def test_a_value_under_an_unknown_key_fails_loudly_and_is_never_read_as_empty(world, use_keys):
    key_a, key_b = new_key(), new_key()
    use_keys(key_a)
    concern_id = raise_concern(world, body="only key A can read this")
    message = post_message(live_room(world), "member", "only key A can read this message")
    use_keys(key_b)
    with pytest.raises(InvalidToken):
        Concern.objects.get(pk=concern_id)
    with pytest.raises(InvalidToken):
        Message.objects.get(pk=message.pk)
    with pytest.raises(InvalidToken):
        list(Concern.objects.all())
    use_keys(key_a)
    assert Concern.objects.get(pk=concern_id).body == "only key A can read this"


def test_a_tampered_token_fails_loudly(world):
    concern_id = raise_concern(world, body="do not change me")
    stored = raw("safeguarding_concern", "body", concern_id)
    flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE safeguarding_concern SET body = %s WHERE id = %s", [flipped, concern_id]
        )
    with pytest.raises(InvalidToken):
        Concern.objects.get(pk=concern_id)


def test_plain_text_put_in_the_column_behind_haven_s_back_is_refused_on_reading(world):
    concern_id = raise_concern(world)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE safeguarding_concern SET body = %s WHERE id = %s", ["plain words", concern_id]
        )
    with pytest.raises(InvalidToken):
        Concern.objects.get(pk=concern_id)


def test_haven_refuses_to_store_text_with_no_key_at_all(world, use_keys):
    use_keys()
    with pytest.raises(RuntimeError):
        raise_concern(world, body="nowhere safe to put this")
    use_keys(new_key())
    assert Concern.objects.count() == 0
