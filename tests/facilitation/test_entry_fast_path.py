"""`room_enter_fast`: room entry's plain case on the event loop (PostgreSQL only, issue 20).

It must answer exactly what the database threads answer (`room_enter_with_token`), write
nothing at all for any case that is not plain (so that the threads refuse or enter as always),
and never open an attendance behind a stopping process's closing of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from facilitation import events, services
from facilitation.models import Attendance
from facilitation.services.room import PROCESS_ID
from groups.models import ApiToken
from groups.services import token_hash
from project import asyncdb, realtime, serve
from tests.facilitation.room import Room, amake_room

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the event-loop path is PostgreSQL's"
    ),
]


@database_sync_to_async
def _open_rows(room: Room) -> int:
    return Attendance.objects.filter(session=room.session, left_at__isnull=True).count()


@database_sync_to_async
def _threads(room: Room, persona: str) -> services.Entered:
    return services.room_enter_with_token(
        key=room.world.tokens[persona], session_id=room.session.pk
    )


async def _fast(room: Room, persona: str) -> Any:
    return await services.room_enter_fast(
        key=room.world.tokens[persona], actor=None, session_id=room.session.pk
    )


async def test_the_plain_case_answers_what_the_database_threads_answer() -> None:
    assert asyncdb.enabled()
    room = await amake_room()
    await _threads(room, "member2")  # someone already here
    fast = await _fast(room, "member")
    assert fast is not None
    entered, outbox = fast
    threads = await _threads(room, "member")

    assert entered.user.pk == threads.user.pk == room.world.users["member"].pk
    assert entered.token_id == threads.token_id is not None
    assert entered.context.attendance_id != threads.context.attendance_id
    assert replace(entered.context, attendance_id=0) == replace(threads.context, attendance_id=0)
    assert entered.state == threads.state
    names = [entry["display_name"] for entry in entered.state["present"]]
    assert names == [
        room.world.members["member2"].display_name,
        room.world.members["member"].display_name,
    ]
    # The room hears her arrival, once the caller publishes it.
    [(group, message)] = outbox
    assert group == events.session_group(room.session.pk)
    assert '"presence"' in message["text"] and '"here"' in message["text"]
    assert await _open_rows(room) == 3


async def test_a_browser_account_enters_on_the_event_loop_too() -> None:
    room = await amake_room()
    user = room.world.users["member"]
    fast = await services.room_enter_fast(key=None, actor=user, session_id=room.session.pk)
    assert fast is not None
    entered, _outbox = fast
    assert entered.token_id is None and entered.context.member_id == room.member_id("member")


async def test_a_stale_token_has_its_idle_clock_moved_on() -> None:
    room = await amake_room()
    key = room.world.tokens["member"]
    stale = timezone.now() - timedelta(minutes=30)
    update = ApiToken.objects.filter(key_hash=token_hash(key)).update
    await database_sync_to_async(update)(last_used_at=stale)
    assert await _fast(room, "member") is not None
    token = await ApiToken.objects.aget(key_hash=token_hash(key))
    assert token.last_used_at > stale + timedelta(minutes=29)


@database_sync_to_async
def _make_not_plain(room: Room, case: str) -> str:
    """Put the room in `case`; returns the persona who then enters."""
    world = room.world
    if case == "host":
        return "facilitator"
    if case in ("muted", "round", "support"):
        member, _state = services.room_enter(
            actor=world.users["member"], session_id=room.session.pk
        )
        host, _state = services.room_enter(
            actor=world.users["facilitator"], session_id=room.session.pk
        )
        if case == "muted":
            services.member_mute(
                actor=world.users["facilitator"],
                context=host,
                member_id=room.member_id("member"),
                minutes=5,
                reason="A pause",
            )
        elif case == "round":
            # Someone to take part (member2 stays).
            services.room_enter(actor=world.users["member2"], session_id=room.session.pk)
            services.round_start(
                actor=world.users["facilitator"], context=host, prompt="How are you?"
            )
        else:
            services.support_request(
                actor=world.users["member"], context=member, client_id=str(uuid.uuid4())
            )
        services.room_leave(context=member)
        services.room_leave(context=host)
        return "member"
    if case == "outsider":
        return "outsider"
    if case == "deactivated":
        return "deactivated"
    if case == "unknown_token":
        world.tokens["member"] = "not-a-token"
        return "member"
    if case == "removed":
        host, _state = services.room_enter(
            actor=world.users["facilitator"], session_id=room.session.pk
        )
        services.member_remove_from_session(
            actor=world.users["facilitator"],
            context=host,
            member_id=room.member_id("member"),
            reason="For everyone's safety",
        )
        services.room_leave(context=host)
        return "member"
    if case == "too_many":
        for _ in range(services.SOCKETS_PER_MEMBER):
            services.room_enter(actor=world.users["member"], session_id=room.session.pk)
        return "member"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "host",
        "muted",
        "round",
        "support",
        "outsider",
        "deactivated",
        "unknown_token",
        "removed",
        "too_many",
    ],
)
async def test_what_is_not_plain_writes_nothing_and_goes_to_the_threads(case: str) -> None:
    room = await amake_room()
    persona = await _make_not_plain(room, case)
    before = await _open_rows(room)
    assert await _fast(room, persona) is None
    assert await _open_rows(room) == before


async def test_an_ended_or_missing_session_is_left_to_the_threads() -> None:
    room = await amake_room(status="ended")
    assert await _fast(room, "member") is None
    missing = await services.room_enter_fast(
        key=room.world.tokens["member"], actor=None, session_id=room.session.pk + 1000
    )
    assert missing is None
    assert await _open_rows(room) == 0


async def test_switched_off_every_entry_takes_the_threads(settings, monkeypatch) -> None:
    settings.HAVEN_FAST_ENTRY = False
    room = await amake_room()
    calls: list[str] = []
    run_in_db = realtime.run_in_db

    async def counted(func: Any, /, **kwargs: Any) -> Any:
        calls.append(func.__name__)
        return await run_in_db(func, **kwargs)

    monkeypatch.setattr(realtime, "run_in_db", counted)
    entered = await services.room_enter_from_loop(
        key=room.world.tokens["member"], actor=None, session_id=room.session.pk
    )
    assert calls == ["room_enter_with_token"]
    assert entered.context.member_id == room.member_id("member")


@pytest.fixture
def restore_db_calls() -> Any:
    """A stopping process stops its database calls for good: start them again."""
    yield
    realtime._stopping.clear()
    realtime._db_executor.cache_clear()


async def test_a_stopping_process_waits_for_an_entry_on_the_loop_then_refuses_more(
    restore_db_calls: None,
) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def writer() -> None:
        async with realtime.loop_write():
            inside.set()
            await release.wait()
            order.append("entry committed")

    def close() -> str:
        order.append("attendance closed")
        return "closed"

    task = asyncio.create_task(writer())
    await inside.wait()
    closing = asyncio.create_task(realtime.run_last_in_db(close))
    await asyncio.sleep(0.05)
    assert order == []  # the close waits for the entry under way
    release.set()
    assert await closing == "closed"
    await task
    assert order == ["entry committed", "attendance closed"]
    with pytest.raises(OperationalError):
        async with realtime.loop_write():
            pass


@database_sync_to_async
def _open_rows_of_this_process() -> int:
    return Attendance.objects.filter(process=PROCESS_ID, left_at__isnull=True).count()


async def test_no_entry_on_the_loop_stays_open_after_the_process_closed_its_rows(
    restore_db_calls: None,
) -> None:
    room = await amake_room()
    entering = [
        asyncio.create_task(
            services.room_enter_from_loop(
                key=room.world.tokens[persona], actor=None, session_id=room.session.pk
            )
        )
        for persona in ("member", "member2", "peer_mentor")
    ]
    await asyncio.sleep(0.005)
    await serve.close_attendance(timeout=10)
    outcomes = await asyncio.gather(*entering, return_exceptions=True)
    for outcome in outcomes:  # in (and then closed), or told to try again
        assert isinstance(outcome, services.Entered | DatabaseError), outcome
    assert await _open_rows_of_this_process() == 0
