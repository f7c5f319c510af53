"""`room_enter_fast`: a token socket's plain room entry on the event loop (PostgreSQL only).

It enters only the plain case, exactly as the database thread would; for everything else it
must write nothing at all (no attendance, no participant row, no token touched), so that
`room_enter_with_token` decides and explains as before. It never writes once the process has
begun to stop, and the process's last call waits for one that is running.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection
from django.utils import timezone

from facilitation import events, services
from facilitation.models import Attendance, Participant, Round, SupportRequest
from facilitation.services.room import PROCESS_ID
from groups.authentication import user_for_token
from groups.models import ApiToken
from groups.services import token_revoke
from groups.services.accounts import TOKEN_TOUCH_EVERY
from project import asyncdb, realtime
from tests.facilitation.room import Room, amake_room

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the event-loop path is PostgreSQL's"
    ),
]


@database_sync_to_async
def _rows(room: Room) -> tuple[int, int, list[Any]]:
    return (
        Attendance.objects.filter(session=room.session).count(),
        Participant.objects.filter(session=room.session).count(),
        sorted(ApiToken.objects.values_list("pk", "last_used_at")),
    )


async def _fast(room: Room, persona: str, session_id: Any = None) -> Any:
    return await services.room_enter_fast(
        key=room.world.tokens[persona],
        session_id=room.session.pk if session_id is None else session_id,
    )


async def test_a_plain_entry_arrives_on_the_event_loop_as_on_a_database_thread() -> None:
    assert asyncdb.enabled()
    room = await amake_room()
    thread = await database_sync_to_async(services.room_enter_with_token)(
        key=room.world.tokens["member2"], session_id=room.session.pk
    )

    done = await _fast(room, "member")

    assert done is not None
    entered, broadcasts = done
    member = room.world.members["member"]
    assert entered.user.pk == room.world.users["member"].pk
    assert entered.context.member_id == member.pk
    assert entered.context.session_id == room.session.pk and not entered.context.is_host
    # The same `session.state` the database thread builds, but for who she is and who is here.
    fast_state, thread_state = entered.state, thread.state
    assert set(fast_state) == set(thread_state)
    assert fast_state["me"]["member_id"] == member.pk
    assert [p["member_id"] for p in fast_state["present"]] == [
        thread.context.member_id,
        member.pk,
    ]
    attendance = await database_sync_to_async(Attendance.objects.get)(
        pk=entered.context.attendance_id
    )
    assert attendance.membership_id == member.pk and attendance.left_at is None
    assert attendance.process == PROCESS_ID
    participant = await database_sync_to_async(Participant.objects.get)(
        session=room.session, membership=member
    )
    assert participant.first_seq == fast_state["last_seq"]
    # Her arrival, for the caller to publish: the room hears she is here.
    assert broadcasts == [
        (
            events.session_group(room.session.pk),
            realtime.forward_message(
                events.presence(
                    member_id=member.pk,
                    display_name=member.display_name,
                    role=member.role,
                    status="here",
                )
            ),
        )
    ]


async def test_an_old_token_is_touched_with_the_entry() -> None:
    room = await amake_room()
    _user, token = await database_sync_to_async(user_for_token)(room.world.tokens["member"])
    stale = timezone.now() - TOKEN_TOUCH_EVERY - timedelta(minutes=1)
    await database_sync_to_async(ApiToken.objects.filter(pk=token.pk).update)(last_used_at=stale)

    assert await _fast(room, "member") is not None

    await database_sync_to_async(token.refresh_from_db)()
    assert token.last_used_at > stale + timedelta(minutes=1)


def _host(room: Room) -> str:
    return "facilitator"


def _muted(room: Room) -> str:
    Participant.objects.create(
        session=room.session,
        membership=room.world.members["member"],
        muted_until=timezone.now() + timedelta(minutes=5),
    )
    return "member"


def _round_open(room: Room) -> str:
    Round.objects.create(session=room.session)
    return "member"


def _asked_for_support(room: Room) -> str:
    SupportRequest.objects.create(
        group=room.world.group_a,
        session=room.session,
        membership=room.world.members["member"],
        kind="talk",
        client_id=uuid.uuid4(),
    )
    return "member"


def _revoked(room: Room) -> str:
    user, token = user_for_token(room.world.tokens["member"])
    token_revoke(actor=user, token=token)
    return "member"


def _outsider(room: Room) -> str:
    return "outsider"


@pytest.mark.parametrize(
    "arrange", [_host, _muted, _round_open, _asked_for_support, _revoked, _outsider]
)
async def test_an_entry_that_is_not_plain_writes_nothing_and_is_left_to_the_thread(arrange):
    room = await amake_room()
    persona = await database_sync_to_async(arrange)(room)
    before = await _rows(room)

    assert await _fast(room, persona) is None

    assert await _rows(room) == before


@pytest.mark.parametrize("session_id", ["not-a-number", 2**62, -1])
async def test_a_session_that_is_not_there_writes_nothing(session_id):
    room = await amake_room()
    before = await _rows(room)
    assert await _fast(room, "member", session_id) is None
    assert await _rows(room) == before


async def test_too_many_sockets_of_hers_is_left_to_the_thread() -> None:
    room = await amake_room()
    for _ in range(services.SOCKETS_PER_MEMBER):
        assert await _fast(room, "member") is not None
    before = await _rows(room)
    assert await _fast(room, "member") is None
    assert await _rows(room) == before


async def test_once_the_process_is_stopping_nothing_is_entered(monkeypatch) -> None:
    room = await amake_room()
    stopping = threading.Event()
    stopping.set()
    monkeypatch.setattr(realtime, "_stopping", stopping)
    before = await _rows(room)

    with pytest.raises(OperationalError):
        await _fast(room, "member")

    assert await _rows(room) == before


async def test_the_process_last_call_waits_for_an_entry_running_on_the_loop(monkeypatch) -> None:
    monkeypatch.setattr(realtime, "_stopping", threading.Event())
    order: list[str] = []
    release = asyncio.Event()

    async def entering() -> None:
        async with realtime.loop_write():
            order.append("entry begins")
            await release.wait()
            order.append("entry ends")

    def last() -> None:
        order.append("last call")

    running = asyncio.create_task(entering())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(realtime.run_last_in_db(last))
    await asyncio.sleep(0.2)
    assert order == ["entry begins"]
    release.set()
    await asyncio.gather(running, stopping)
    assert order == ["entry begins", "entry ends", "last call"]
