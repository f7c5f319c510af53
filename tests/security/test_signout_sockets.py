"""Security catalogue row 3: signing out on the page closes every socket of that browser.

The sign-out page (`POST /signout/`, the button and the quick exit's beacon alike), and the
quick exit's mark on the next page asked for (groups.middleware.QuickExitMiddleware), end the
browser session and closes each of its sockets with 4401, however many tabs hold one; a socket
of the same account opened by another browser stays open and can still post.
"""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from tests.facilitation.room import Room, amake_room
from tests.facilitation.test_ws_handshake import (
    CLOSED_SIGNED_OUT,
    HOST,
    ORIGIN,
    browser_signed_in,
    communicator,
    entered,
    next_close,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def room() -> Room:
    return await amake_room()


@pytest.mark.parametrize("how", ["button", "beacon", "mark"])
async def test_the_signout_page_closes_every_tab_of_that_browser_and_no_other(
    room: Room, how: str
) -> None:
    member = room.world.user("member")
    browser, cookie = await browser_signed_in(member)
    _phone, phone_cookie = await browser_signed_in(member)
    tabs = [communicator(room, ORIGIN, HOST, cookie) for _ in range(3)]
    phone = communicator(room, ORIGIN, HOST, phone_cookie)
    for comm in [*tabs, phone]:
        await entered(comm)

    if how == "mark":
        # The quick exit's mark on the next page asked for, before any beacon arrives.
        browser.cookies[settings.HAVEN_LEFT_COOKIE_NAME] = "1"
        answer = await database_sync_to_async(browser.get)("/groups/")
        assert answer.status_code == 302 and answer["Location"].startswith("/signin/")
    else:
        form = {"beacon": "1"} if how == "beacon" else {}
        answer = await database_sync_to_async(browser.post)("/signout/", form)
        assert answer.status_code == (204 if how == "beacon" else 302)
    for comm in tabs:
        assert await next_close(comm, timeout=5) == CLOSED_SIGNED_OUT
    client_id = str(uuid.uuid4())
    await phone.send_json_to(
        {
            "type": "message.send",
            "client_id": client_id,
            "body": "still here",
            "content_warning": None,
        }
    )
    while True:
        event = await phone.receive_json_from(timeout=5)
        if event["type"] == "ack":
            break
    assert event["client_id"] == client_id
    for comm in [*tabs, phone]:
        await comm.disconnect()
