"""Key rotation over every encrypted column there is (security catalogue rows 30-31).

The columns are found the way `rotate_field_keys` finds them (every `EncryptedTextField` of
every model), not listed by hand: a scenario writes into each one, and the test fails if a
column was left empty, so a new encrypted field cannot slip past the rotation test unseen.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from facilitation import services as session_services
from groups import services as group_services
from project.crypto import PREFIX, EncryptedTextField
from safeguarding import services as concern_services
from tests.conftest import World
from tests.safeguarding import (
    enter,
    live_room,
    move,
    post_message,
    raise_concern,
    referralkit,
    reply,
)
from tests.safeguarding.test_encryption import new_key, use_keys  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

CANARY = "ROTATE-5d0c"


def encrypted_columns() -> set[tuple[str, str]]:
    return {
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.fields
        if isinstance(field, EncryptedTextField)
    }


def stored(table: str, column: str) -> list[str]:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(column)} FROM {quote(table)} WHERE {quote(column)} <> '' ORDER BY id"
        )
        return [row[0] for row in cursor.fetchall()]


def plain_values() -> dict[tuple[str, str], list[Any]]:
    """Every encrypted value, read back through the models (so decrypted), by column."""
    values: dict[tuple[str, str], list[Any]] = {}
    for model in apps.get_models():
        for field in model._meta.fields:
            if isinstance(field, EncryptedTextField):
                read = model.objects.order_by("pk").values_list(field.attname, flat=True)
                values[(model._meta.db_table, field.column)] = [v for v in read if v]
    return values


def write_into_every_column(world: World) -> None:
    room = live_room(world)
    facilitator = world.users["facilitator"]
    host = enter(room, "facilitator")
    rose = enter(room, "member")
    enter(room, "member2")
    session_services.support_request(
        actor=world.users["member"], context=rose, note=f"{CANARY} support"
    )
    session_services.checkin_set(
        actor=world.users["member"], context=rose, moment="in", mood="okay", note=f"{CANARY} in"
    )
    session_services.private_send(
        actor=world.users["member"],
        context=rose,
        client_id="4b4e28ba-2fa1-11d2-883f-0016d3cca427",
        body=f"{CANARY} private",
    )
    warning = {"category": "physical_violence", "note": f"{CANARY} warning note"}
    message = post_message(room, "member", f"{CANARY} message", content_warning=warning)
    other = post_message(room, "member2", f"{CANARY} second message")
    session_services.message_hide(
        actor=facilitator, context=host, message_id=other.pk, reason=f"{CANARY} hide"
    )
    session_services.member_mute(
        actor=facilitator,
        context=host,
        member_id=world.members["member2"].pk,
        minutes=5,
        reason=f"{CANARY} mute",
    )
    session_services.member_remove_from_session(
        actor=facilitator,
        context=host,
        member_id=world.members["member2"].pk,
        reason=f"{CANARY} removal",
    )
    session_services.plan_replace(
        actor=facilitator,
        session=room.session,
        items=[{"title": "Check-in", "kind": "check_in", "minutes": 10, "notes": f"{CANARY} plan"}],
    )
    session_services.round_start(actor=facilitator, context=host, prompt=f"{CANARY} prompt")
    session_services.room_set_status(
        actor=facilitator, context=host, status="paused", note=f"{CANARY} note"
    )
    concern_id = raise_concern(world, body=f"{CANARY} concern", message_ids=[message.pk])
    assert reply(world, "member", concern_id, f"{CANARY} reply").status_code == 201
    moved = move(world, "facilitator", concern_id, "acknowledged", f"{CANARY} to her")
    assert moved.status_code == 200
    concern_services.concern_note_add(
        actor=facilitator, concern_id=concern_id, body=f"{CANARY} staff note"
    )
    group_services.agreement_publish(
        actor=facilitator, group=world.group_a, points=[f"{CANARY} point"]
    )
    proposal = group_services.proposal_create(
        actor=world.users["member"], group=world.group_a, text=f"{CANARY} proposal"
    )
    group_services.proposal_decide(
        actor=facilitator,
        group=world.group_a,
        proposal_id=proposal.pk,
        status="adopted",
        note=f"{CANARY} answer",
    )
    # Issue 16: a staff-only invite label, a pause with its reason and message to her, and the
    # debrief and handover note written once the session has ended.
    group_services.invite_create(actor=facilitator, group=world.group_a, label=f"{CANARY} label")
    group_services.member_decide(
        actor=facilitator,
        group=world.group_a,
        member_id=world.members["member2"].pk,
        decision="pause",
        weeks=1,
        reason=f"{CANARY} reason",
        message=f"{CANARY} message",
    )
    ended = session_services.session_set_status(
        actor=facilitator, session=room.session, status="ended"
    )
    session_services.debrief_write(actor=facilitator, session=ended, body=f"{CANARY} debrief")
    session_services.handover_write(actor=facilitator, session=ended, body=f"{CANARY} handover")
    # Issue 17: the words of a referral with consent.
    referralkit.propose(world, contact_route=f"{CANARY} contact", need=f"{CANARY} need")


def test_every_encrypted_column_is_written_rotated_and_read_back(world, use_keys):  # noqa: F811
    key_a, key_b = new_key(), new_key()
    use_keys(key_a)
    write_into_every_column(world)
    columns = encrypted_columns()
    empty = sorted(column for column in columns if not stored(*column))
    assert not empty, f"the scenario writes nothing into {empty}: add it above"
    for column in columns:
        for value in stored(*column):
            assert value.startswith(PREFIX), column
            assert CANARY not in value, column
            Fernet(key_a).decrypt(value.removeprefix(PREFIX).encode())
    before = plain_values()
    assert any(CANARY in str(v) for v in before.values())

    use_keys(key_b, key_a)
    call_command("rotate_field_keys", stdout=io.StringIO())
    use_keys(key_b)

    for column in columns:
        for value in stored(*column):
            token = value.removeprefix(PREFIX).encode()
            Fernet(key_b).decrypt(token)
            with pytest.raises(InvalidToken):
                Fernet(key_a).decrypt(token)
    assert plain_values() == before
