"""The live room's handshake through the full ASGI application: Origin, credentials, closing.

Every socket goes through `project.asgi.application` (Origin validator, session and token
middleware, router) to a real, live session of group A that every member may enter.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from groups import services
from project.asgi import application
from tests.facilitation.room import Room, amake_room

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")
CLOSED_SIGNED_OUT = {"type": "websocket.close", "code": 4401}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def room() -> Room:
    return await amake_room()


def path_of(room: Room) -> str:
    return f"/ws/sessions/{room.session.pk}/"


def communicator(
    room: Room, *headers: tuple[bytes, bytes], token: str | None = None, query: str = ""
) -> WebsocketCommunicator:
    extra = [(b"authorization", f"Token {token}".encode())] if token else []
    return WebsocketCommunicator(application, path_of(room) + query, headers=[*headers, *extra])


async def entered(comm: WebsocketCommunicator) -> dict[str, Any]:
    """Connect and return the first event, which must be the room's state."""
    connected, _ = await comm.connect()
    assert connected is True
    first = await comm.receive_output(timeout=3)
    assert first["type"] == "websocket.send", first
    event = json.loads(first["text"])
    assert event["type"] == "session.state"
    return event


async def next_close(comm: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    """Skip room events (presence and the like) until the socket closes; return the close."""
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output


async def browser_signed_in(user: Any) -> tuple[Client, tuple[bytes, bytes]]:
    """A browser with a session for `user`, and the Cookie header its sockets would send."""
    browser = Client()
    await database_sync_to_async(browser.force_login)(user)
    name = settings.SESSION_COOKIE_NAME
    return browser, (b"cookie", f"{name}={browser.cookies[name].value}".encode())


# --- Origin ----------------------------------------------------------------------------------


async def test_a_foreign_origin_is_rejected(room):
    comm = communicator(
        room, (b"origin", b"https://evil.example"), HOST, token=room.world.tokens["member"]
    )

    connected, _ = await comm.connect()

    assert connected is False
    await comm.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (b"http://127.0.0.1:8081", b"127.0.0.1:8000"),  # another port of the same host
        (b"http://127.0.0.1:8000", b"127.0.0.1"),
        (b"ftp://127.0.0.1", b"127.0.0.1"),
        (b"http://127.0.0.1/path", b"127.0.0.1"),
    ],
)
async def test_an_origin_is_compared_as_scheme_host_and_port(room, origin, host):
    comm = communicator(
        room, (b"origin", origin), (b"host", host), token=room.world.tokens["member"]
    )

    connected, _ = await comm.connect()

    assert connected is False
    await comm.disconnect()


async def test_the_sites_own_origin_with_its_port_is_accepted(room):
    comm = communicator(
        room,
        (b"origin", b"http://127.0.0.1:8000"),
        (b"host", b"127.0.0.1:8000"),
        token=room.world.tokens["member"],
    )

    connected, _ = await comm.connect()

    assert connected is True
    await comm.disconnect()


async def test_over_https_only_an_https_origin_is_the_sites_own(room, settings):
    settings.HTTPS = True
    plain = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])
    secure = communicator(
        room, (b"origin", b"https://127.0.0.1"), HOST, token=room.world.tokens["member"]
    )

    refused, _ = await plain.connect()
    accepted, _ = await secure.connect()

    assert (refused, accepted) == (False, True)
    await plain.disconnect()
    await secure.disconnect()


async def test_a_handshake_without_an_origin_is_rejected(room):
    comm = communicator(room, HOST, token=room.world.tokens["member"])

    connected, _ = await comm.connect()

    assert connected is False
    await comm.disconnect()


# --- credentials -----------------------------------------------------------------------------


async def test_an_anonymous_socket_is_closed_with_4401(room):
    comm = communicator(room, ORIGIN, HOST)

    connected, _ = await comm.connect()

    assert connected is True
    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_a_token_in_the_authorization_header_is_accepted(room):
    comm = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])

    state = await entered(comm)

    assert state["me"]["member_id"] == room.member_id("member")
    assert await comm.receive_nothing(timeout=0.2) is True
    await comm.disconnect()


async def test_a_token_in_the_query_string_is_ignored(room):
    comm = communicator(room, ORIGIN, HOST, query=f"?token={room.world.tokens['member']}")

    connected, _ = await comm.connect()

    assert connected is True
    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_an_invalid_token_is_closed_with_4401(room):
    comm = communicator(room, ORIGIN, HOST, token="not-a-real-token")

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_a_malformed_authorization_header_is_closed_with_4401(room):
    comm = communicator(room, ORIGIN, HOST, (b"authorization", b"Token two words"))

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_a_deactivated_accounts_token_is_closed_with_4401(room):
    comm = communicator(room, ORIGIN, HOST, token=room.world.tokens["deactivated"])

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_a_session_cookie_signs_the_socket_in(room):
    _, cookie = await browser_signed_in(room.world.user("member"))
    comm = communicator(room, ORIGIN, HOST, cookie)

    state = await entered(comm)

    assert state["me"]["member_id"] == room.member_id("member")
    await comm.disconnect()


async def test_a_session_cookie_of_a_deactivated_account_is_closed_with_4401(room):
    _, cookie = await browser_signed_in(room.world.user("deactivated"))
    comm = communicator(room, ORIGIN, HOST, cookie)

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_an_invalid_token_wins_over_a_valid_session_cookie(room):
    _, cookie = await browser_signed_in(room.world.user("member"))
    comm = communicator(room, ORIGIN, HOST, cookie, token="not-a-real-token")

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


# --- signing out closes what was opened ------------------------------------------------------


async def test_revoking_the_token_closes_the_socket_it_opened_with_4401(room):
    comm = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])
    await entered(comm)

    response = await database_sync_to_async(room.world.client("member").post)(
        "/api/v1/auth/token/revoke/"
    )

    assert response.status_code == 204
    assert await next_close(comm) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_revoking_the_token_directly_through_the_service_closes_the_socket(room):
    from groups.models import ApiToken

    member = room.world.user("member")
    token = await database_sync_to_async(services.token_issue)(user=member)
    comm = communicator(room, ORIGIN, HOST, token=token)
    await entered(comm)

    def revoke() -> None:
        record = ApiToken.objects.get(key_hash=services.token_hash(token))
        services.token_revoke(actor=member, token=record)

    await database_sync_to_async(revoke)()

    assert await next_close(comm) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_revoking_one_token_leaves_a_socket_of_another_token_open(room):
    other_token = await database_sync_to_async(services.token_issue)(user=room.world.user("member"))
    kept = communicator(room, ORIGIN, HOST, token=other_token)
    await entered(kept)

    response = await database_sync_to_async(room.world.client("member").post)(
        "/api/v1/auth/token/revoke/"
    )

    assert response.status_code == 204
    assert await kept.receive_nothing(timeout=0.3) is True
    await kept.disconnect()


async def test_signing_a_browser_out_closes_its_cookie_socket_with_4401(room):
    browser, cookie = await browser_signed_in(room.world.user("member"))
    comm = communicator(room, ORIGIN, HOST, cookie)
    await entered(comm)

    response = await database_sync_to_async(browser.post)("/api/v1/auth/token/revoke/")

    assert response.status_code == 204
    assert await next_close(comm) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_deactivating_the_account_closes_its_socket_with_4401(room):
    comm = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])
    await entered(comm)

    await database_sync_to_async(services.account_deactivate)(
        actor=room.world.user("admin"), user=room.world.user("member")
    )

    assert await next_close(comm) == CLOSED_SIGNED_OUT
    await comm.disconnect()


async def test_deactivating_another_account_leaves_the_socket_open(room):
    comm = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])
    await entered(comm)

    await database_sync_to_async(services.account_deactivate)(
        actor=room.world.user("admin"), user=room.world.user("member2")
    )

    # Other people's comings and goings may arrive; what must not arrive is a close.
    outputs = []
    while not await comm.receive_nothing(timeout=0.3):
        outputs.append(await comm.receive_output(timeout=1))
    assert all(output["type"] != "websocket.close" for output in outputs), outputs
    await comm.disconnect()


async def test_an_admin_switching_a_staff_account_off_closes_her_cookie_socket_and_sessions(room):
    from django.contrib.sessions.models import Session as BrowserSession

    facilitator = room.world.user("facilitator")
    browser, cookie = await browser_signed_in(facilitator)
    comm = communicator(room, ORIGIN, HOST, cookie)
    await entered(comm)
    admin, _admin_cookie = await browser_signed_in(room.world.user("admin"))

    answer = await database_sync_to_async(admin.post)(f"/staff/{facilitator.pk}/switch-off/")

    assert answer.status_code == 302
    assert await next_close(comm) == CLOSED_SIGNED_OUT
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert not await database_sync_to_async(BrowserSession.objects.filter(session_key=key).exists)()
    assert (await database_sync_to_async(browser.get)("/concerns/")).status_code == 302
    await comm.disconnect()
