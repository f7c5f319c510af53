"""`message_post_fast`: `message.send` on the event loop (PostgreSQL only).

It writes only the plain case; for everything else it must write nothing at all (no seq taken,
no message, no log row), so that `message_post` can explain the refusal or answer the resend.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from facilitation import services
from facilitation.models import Message, Participant, Session, SessionEvent
from project import asyncdb
from project.exceptions import ValidationFailed
from tests.facilitation.room import Room, amake_room

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the event-loop path is PostgreSQL's"
    ),
]


@database_sync_to_async
def _enter(room: Room, persona: str) -> services.RoomContext:
    context, _state = services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )
    return context


@database_sync_to_async
def _log(room: Room) -> tuple[int, list[int], int]:
    last_seq = Session.objects.get(pk=room.session.pk).last_seq
    seqs = list(
        SessionEvent.objects.filter(session=room.session)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    return last_seq, seqs, Message.objects.filter(session=room.session).count()


async def _post(context: services.RoomContext, client_id: str, body: str = "hello") -> Any:
    return await services.message_post_fast(
        context=context, body=body, content_warning=None, client_id=client_id
    )


async def test_the_plain_case_is_written_on_the_event_loop_with_the_next_seq() -> None:
    assert asyncdb.enabled()
    room = await amake_room()
    context = await _enter(room, "member")
    before, _seqs, _count = await _log(room)
    client_id = str(uuid.uuid4())
    posted = await _post(context, client_id, "I made it tonight")
    assert posted is not None
    event, broadcasts = posted
    assert event["type"] == "message"
    assert event["seq"] == before + 1
    assert event["body"] == "I made it tonight"
    assert event["client_id"] == client_id
    assert [group for group, _message in broadcasts] == [f"session.{room.session.pk}"]
    last_seq, seqs, count = await _log(room)
    assert last_seq == before + 1
    assert seqs == list(range(1, last_seq + 1))
    assert count == 1
    # The row the threaded path and the replay read is the same message.
    replayed = await database_sync_to_async(services.events_replay)(
        session_id=room.session.pk, after_seq=before
    )
    assert [(e["seq"], e["body"], e["message_id"]) for e in replayed] == [
        (event["seq"], "I made it tonight", event["message_id"])
    ]


async def test_a_resend_writes_nothing_and_leaves_it_to_message_post() -> None:
    room = await amake_room()
    context = await _enter(room, "member")
    client_id = str(uuid.uuid4())
    first = await _post(context, client_id)
    assert first is not None
    after_first = await _log(room)
    assert await _post(context, client_id) is None
    assert await _log(room) == after_first
    event, created = await database_sync_to_async(services.message_post)(
        actor=room.world.users["member"],
        context=context,
        body="hello",
        content_warning=None,
        client_id=client_id,
    )
    assert (event["seq"], created) == (first[0]["seq"], False)


@pytest.mark.parametrize("case", ["muted", "removed", "paused", "over_the_limit"])
async def test_a_post_that_is_not_plain_takes_no_seq_and_writes_nothing(case: str) -> None:
    room = await amake_room()
    context = await _enter(room, "member")
    if case == "over_the_limit":
        for _ in range(services.RATE_LIMIT_MESSAGES):
            assert await _post(context, str(uuid.uuid4())) is not None
    else:

        @database_sync_to_async
        def arrange() -> None:
            rows = Participant.objects.filter(session=room.session, membership_id=context.member_id)
            if case == "muted":
                rows.update(muted_until=timezone.now() + timedelta(minutes=5))
            elif case == "removed":
                rows.update(removed_at=timezone.now())
            else:
                Session.objects.filter(pk=room.session.pk).update(status="paused")

        await arrange()
    before = await _log(room)
    assert await _post(context, str(uuid.uuid4())) is None
    assert await _log(room) == before


async def test_a_bad_frame_is_refused_before_any_database_work() -> None:
    room = await amake_room()
    context = await _enter(room, "member")
    before = await _log(room)
    with pytest.raises(ValidationFailed):
        await _post(context, "not-a-uuid")
    with pytest.raises(ValidationFailed):
        await _post(context, str(uuid.uuid4()), body="")
    assert await _log(room) == before


async def test_the_event_loop_connections_take_the_database_options_of_django() -> None:
    options = connection.settings_dict["OPTIONS"]
    options["application_name"] = "haven-fast-post-test"
    try:
        kwargs = asyncdb._connect_kwargs()
        assert kwargs["autocommit"] is True
        assert "cursor_factory" not in kwargs
        assert kwargs["prepare_threshold"] == 2
        options["prepare_threshold"] = None  # the operator's choice wins
        assert asyncdb._connect_kwargs()["prepare_threshold"] is None
        options.pop("prepare_threshold")
        async with asyncdb.connection() as conn:
            cursor = await conn.execute("SHOW application_name")
            assert await cursor.fetchone() == ("haven-fast-post-test",)
    finally:
        options.pop("application_name")
        asyncdb.close_all()
