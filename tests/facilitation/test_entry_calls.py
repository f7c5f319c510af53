"""What getting back into a room costs in calls to the database threads (issue 20): her token
is checked with room entry in one call, and `resume` is one call, with the revocation
guarantee intact."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from groups.authentication import user_for_token
from groups.services import token_revoke
from project import closecodes, realtime
from tests.facilitation.room import amake_room, connect, join

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_reconnect_with_a_token_is_two_calls_to_the_database_threads(monkeypatch):
    room = await amake_room()
    calls: list[str] = []
    run_in_db = realtime.run_in_db

    async def counted(func: Any, /, **kwargs: Any) -> Any:
        calls.append(func.__name__)
        return await run_in_db(func, **kwargs)

    monkeypatch.setattr(realtime, "run_in_db", counted)

    client, state = await join(room, "member")
    await client.send(type="resume", after_seq=state["last_seq"])
    await client.until("resume.done")

    # Her token checked with room entry; the log, her notices and her private messages.
    assert calls == ["room_enter_with_token", "resume_read"]
    await client.close()


async def test_a_revoked_token_never_gets_back_in():
    room = await amake_room()
    client, _state = await join(room, "member")
    await client.close()
    token = room.world.tokens["member"]

    def revoke() -> None:
        found = user_for_token(token)
        assert found is not None
        token_revoke(actor=found[0], token=found[1])

    await database_sync_to_async(revoke)()
    again, state = await connect(room, token)

    assert state is None and again.close_code == closecodes.NOT_SIGNED_IN
    await again.close()
