"""`message_post_fast`: `message.send` on the event loop (PostgreSQL only).

It writes only the plain case; for everything else it must write nothing at all (no seq taken,
no message, no log row), so that `message_post` can explain the refusal or answer the resend.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from facilitation import services
from facilitation.models import Message, Participant, Session, SessionEvent
from facilitation.services.messages import RATE_LIMIT_MESSAGES
from project import asyncdb
from project.exceptions import ApplicationError, ValidationFailed
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


@pytest.fixture
def pool_name() -> Iterator[str]:
    """The event loop's connections of this test, opened under this `application_name`, so
    that PostgreSQL's view of them (pg_stat_activity) can be told from the test's own (the
    autouse fixture of tests/conftest.py closes them after the test)."""
    name = f"haven-fast-post-{uuid.uuid4().hex[:8]}"
    options = connection.settings_dict["OPTIONS"]
    options["application_name"] = name
    yield name
    options.pop("application_name")


def _other_connection() -> psycopg.Connection[Any]:
    """A connection of the test's own, as another server process or tab would have."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params["application_name"] = "haven-fast-post-test"
    return psycopg.connect(**params, autocommit=True)


def _states(other: psycopg.Connection[Any], name: str) -> set[str]:
    rows = other.execute(
        "SELECT state, COALESCE(wait_event_type, '') FROM pg_stat_activity "
        "WHERE application_name = %s",
        [name],
    ).fetchall()
    return {state if wait != "Lock" else "waiting for a lock" for state, wait in rows}


async def test_a_post_commits_in_its_one_round_trip_without_waiting_for_the_event_loop(
    pool_name: str,
) -> None:
    """On a busy process the loop comes back to a post late. The post's commit goes with its
    statements, so PostgreSQL never holds the session row lock (every writer of the room waits
    on it) while the loop is elsewhere: its connection is never seen idle in a transaction."""
    room = await amake_room()
    context = await _enter(room, "member")
    seen: set[str] = set()
    posting = True

    async def busy_neighbour(other: psycopg.Connection[Any]) -> None:
        # Another connection's work holding the loop for 20 ms at a time, looking at the
        # post's connection before and after.
        while posting:
            seen.update(_states(other, pool_name))
            time.sleep(0.02)
            seen.update(_states(other, pool_name))
            await asyncio.sleep(0)

    with _other_connection() as other:
        neighbour = asyncio.create_task(busy_neighbour(other))
        try:
            for _ in range(RATE_LIMIT_MESSAGES):
                assert await _post(context, str(uuid.uuid4())) is not None
        finally:
            posting = False
            await neighbour
    last_seq, seqs, count = await _log(room)
    assert count == RATE_LIMIT_MESSAGES
    assert seqs == list(range(1, last_seq + 1))
    assert "idle" in seen  # the sampling saw the connection
    assert "idle in transaction" not in seen


def _hold_the_lock_and_post(
    other: psycopg.Connection[Any], room: Room, member_id: int, client_id: str
) -> None:
    """What another tab's post does, up to its commit: the session row lock, the next seq, her
    message with `client_id`, its log row."""
    body = Message._meta.get_field("body").get_db_prep_value("other tab", connection)
    session, message, event = (model._meta.db_table for model in (Session, Message, SessionEvent))
    other.execute("BEGIN")
    seq = other.execute(
        f"UPDATE {session} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
        [room.session.pk],
    ).fetchone()[0]
    message_id = other.execute(
        f"INSERT INTO {message} (session_id, author_id, client_id, body, cw_category, "
        "cw_note, sent_at, hide_reason) VALUES (%s, %s, %s, %s, '', '', now(), '') "
        "RETURNING id",
        [room.session.pk, member_id, client_id, body],
    ).fetchone()[0]
    other.execute(
        f"INSERT INTO {event} (session_id, seq, type, payload, message_id, created_at, text) "
        "VALUES (%s, %s, 'message', '{}', %s, now(), '')",
        [room.session.pk, seq, message_id],
    )


async def _threaded_post(
    room: Room, context: services.RoomContext, client_id: str
) -> tuple[dict[str, Any], bool]:
    """`message_post`, the path that explains every refusal (no event-loop connection)."""
    return await database_sync_to_async(services.message_post)(
        actor=room.world.users["member"],
        context=context,
        body="hello",
        content_warning=None,
        client_id=client_id,
    )


async def _race(
    room: Room, context: services.RoomContext, name: str, theirs: str, mine: str
) -> Any:
    """Her post (`mine`) sent while another tab (`theirs`) holds the session row lock, which
    that tab then commits; returns what `message_post_fast` did: its value or its error.
    `name`: the `pool_name` of the test."""
    # The watcher is not the holder: inside a transaction, pg_stat_activity keeps showing
    # what it showed first.
    with _other_connection() as holder, _other_connection() as watcher:
        await database_sync_to_async(_hold_the_lock_and_post)(
            holder, room, context.member_id, theirs
        )
        post = asyncio.create_task(_post(context, mine))
        for _ in range(500):
            if "waiting for a lock" in _states(watcher, name) or post.done():
                break
            await asyncio.sleep(0.01)
        assert not post.done(), "the post did not wait for the session row lock"
        holder.execute("COMMIT")
        try:
            return await post
        except psycopg.Error as error:
            return error


async def test_a_post_that_waited_while_another_tab_filled_the_window_writes_nothing(
    pool_name: str,
) -> None:
    room = await amake_room()
    context = await _enter(room, "member")
    for _ in range(RATE_LIMIT_MESSAGES - 1):
        await _threaded_post(room, context, str(uuid.uuid4()))

    mine = str(uuid.uuid4())
    outcome = await _race(room, context, pool_name, str(uuid.uuid4()), mine)

    # The lock's snapshot was taken before the other tab committed; `settle` saw its message.
    assert isinstance(outcome, psycopg.errors.InvalidTextRepresentation)
    last_seq, seqs, count = await _log(room)
    assert count == RATE_LIMIT_MESSAGES  # the other tab's, not hers
    assert seqs == list(range(1, last_seq + 1))
    with pytest.raises(ApplicationError) as refused:
        await _threaded_post(room, context, mine)
    assert refused.value.code == "rate_limited"


async def test_a_resend_that_lands_while_the_post_waits_for_the_lock_leaves_no_gap(
    pool_name: str,
) -> None:
    room = await amake_room()
    context = await _enter(room, "member")
    client_id = str(uuid.uuid4())

    outcome = await _race(room, context, pool_name, client_id, client_id)

    assert isinstance(outcome, psycopg.errors.InvalidTextRepresentation)
    last_seq, seqs, count = await _log(room)
    assert count == 1
    assert seqs == list(range(1, last_seq + 1))
    event, created = await _threaded_post(room, context, client_id)
    assert (event["seq"], event["body"], created) == (last_seq, "other tab", False)
