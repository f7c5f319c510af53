"""API tokens expire (issue 13): after HAVEN_TOKEN_IDLE_HOURS unused, and HAVEN_TOKEN_MAX_DAYS
after they were issued, whatever the use; over REST, at the socket's handshake and on its
heartbeat. "Sign out everywhere" ends every token, browser session and socket of the account."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session as DjangoSession
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from groups import services
from groups.models import ApiToken
from tests.conftest import World
from tests.facilitation.room import amake_room
from tests.facilitation.test_ws_handshake import (
    CLOSED_SIGNED_OUT,
    HOST,
    ORIGIN,
    communicator,
    entered,
    next_close,
)

ME = "/api/v1/me/"
EVERYWHERE = "/api/v1/auth/signout-everywhere/"


def me(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(ME).status_code


def test_a_token_left_unused_past_the_idle_time_no_longer_works(world: World) -> None:
    idle = timedelta(hours=settings.HAVEN_TOKEN_IDLE_HOURS)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = services.token_issue(user=world.users["member"])
        clock.shift(idle - timedelta(minutes=5))
        assert me(token) == 200
        # Using it moved its idle clock on.
        clock.shift(idle - timedelta(minutes=5))
        assert me(token) == 200
        clock.shift(idle + timedelta(minutes=1))
        assert me(token) == 401


def test_a_token_in_daily_use_still_ends_at_its_absolute_limit(world: World) -> None:
    limit = timedelta(days=settings.HAVEN_TOKEN_MAX_DAYS)
    step = timedelta(hours=settings.HAVEN_TOKEN_IDLE_HOURS) - timedelta(minutes=5)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = services.token_issue(user=world.users["member"])
        age = timedelta(0)
        while age + step < limit:
            clock.shift(step)
            age += step
            assert me(token) == 200, age
        clock.shift(limit - age + timedelta(minutes=1))
        assert me(token) == 401


def test_live_tokens_are_one_queryset_every_check_uses(world: World) -> None:
    member = world.users["member"]
    fresh = services.token_issue(user=member)
    old = services.token_issue(user=member)
    ApiToken.objects.filter(key_hash=services.token_hash(old)).update(
        created_at=timezone.now() - timedelta(days=settings.HAVEN_TOKEN_MAX_DAYS, minutes=1)
    )
    live = set(ApiToken.objects.live().filter(user=member).values_list("key_hash", flat=True))
    assert services.token_hash(fresh) in live
    assert services.token_hash(old) not in live


def _expire(token: str) -> None:
    ApiToken.objects.filter(key_hash=services.token_hash(token)).update(
        last_used_at=timezone.now() - timedelta(hours=settings.HAVEN_TOKEN_IDLE_HOURS, minutes=1)
    )


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_cannot_open_a_socket() -> None:
    room = await amake_room()
    token = room.world.tokens["member"]
    await database_sync_to_async(_expire)(token)
    comm = communicator(room, ORIGIN, HOST, token=token)

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_heartbeat_closes_a_socket_whose_token_expired(settings: Any) -> None:
    settings.HAVEN_HEARTBEAT_SECONDS = 0.5
    room = await amake_room()
    token = room.world.tokens["member"]
    comm = communicator(room, ORIGIN, HOST, token=token)
    await entered(comm)

    # Not a sign-out (that pushes a close): the token simply runs out.
    await database_sync_to_async(_expire)(token)

    assert await asyncio.wait_for(next_close(comm), 10) == CLOSED_SIGNED_OUT
    await comm.disconnect()


# --- sign out everywhere -------------------------------------------------------------------


def test_sign_out_everywhere_ends_every_token_and_browser_session_of_hers_only(
    world: World,
) -> None:
    member = world.users["member"]
    other = services.token_issue(user=member)
    browser = Client()
    browser.force_login(member)
    someone_else = Client()
    someone_else.force_login(world.users["member2"])

    answer = world.client("member").post(EVERYWHERE)

    assert answer.status_code == 204
    assert me(world.tokens["member"]) == 401
    assert me(other) == 401
    assert not ApiToken.objects.filter(user=member).exists()
    assert browser.get("/api/v1/me/").status_code in {401, 403}
    assert browser.get("/groups/").status_code == 302
    # Everyone else is left alone.
    assert me(world.tokens["member2"]) == 200
    assert someone_else.get("/groups/").status_code == 200


def test_sign_out_everywhere_from_a_browser_signs_that_browser_out_too(world: World) -> None:
    browser = Client(enforce_csrf_checks=False)
    browser.force_login(world.users["member"])

    answer = browser.post(EVERYWHERE)

    assert answer.status_code == 204
    assert browser.get("/groups/").status_code == 302
    assert not [
        s
        for s in DjangoSession.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(world.users["member"].pk)
    ]


def test_sign_out_everywhere_needs_her_to_be_signed_in(db: None) -> None:
    assert APIClient().post(EVERYWHERE).status_code == 401


def test_the_settings_page_has_a_sign_out_everywhere_button_that_works(world: World) -> None:
    browser = Client()
    browser.force_login(world.users["member"])
    page = browser.get("/settings/").content.decode()
    assert 'value="signout_everywhere"' in page

    answer = browser.post("/settings/", {"action": "signout_everywhere"})

    assert answer.status_code == 302
    assert answer["Clear-Site-Data"]
    assert me(world.tokens["member"]) == 401
    assert browser.get("/groups/").status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_sign_out_everywhere_closes_every_socket_of_hers() -> None:
    room = await amake_room()
    by_token = communicator(room, ORIGIN, HOST, token=room.world.tokens["member"])
    await entered(by_token)
    browser = Client()
    await database_sync_to_async(browser.force_login)(room.world.user("member"))
    name = settings.SESSION_COOKIE_NAME
    by_cookie = communicator(
        room, ORIGIN, HOST, (b"cookie", f"{name}={browser.cookies[name].value}".encode())
    )
    await entered(by_cookie)

    answer = await database_sync_to_async(room.world.client("member").post)(EVERYWHERE)

    assert answer.status_code == 204
    assert await next_close(by_token) == CLOSED_SIGNED_OUT
    assert await next_close(by_cookie) == CLOSED_SIGNED_OUT
    await by_token.disconnect()
    await by_cookie.disconnect()


def test_purge_expired_deletes_dead_tokens_and_browser_sessions_and_nothing_alive(
    world: World,
) -> None:
    member = world.users["member"]
    fresh = services.token_issue(user=member)
    old = services.token_issue(user=member)
    idle = services.token_issue(user=member)
    ApiToken.objects.filter(key_hash=services.token_hash(old)).update(
        created_at=timezone.now() - timedelta(days=settings.HAVEN_TOKEN_MAX_DAYS, minutes=1)
    )
    ApiToken.objects.filter(key_hash=services.token_hash(idle)).update(
        last_used_at=timezone.now() - timedelta(hours=settings.HAVEN_TOKEN_IDLE_HOURS, minutes=1)
    )
    browser = Client()
    browser.force_login(member)
    alive = browser.cookies[settings.SESSION_COOKIE_NAME].value
    gone = Client()
    gone.force_login(member)
    DjangoSession.objects.filter(
        session_key=gone.cookies[settings.SESSION_COOKIE_NAME].value
    ).update(expire_date=timezone.now() - timedelta(seconds=1))

    tokens_before = ApiToken.objects.count()
    out = io.StringIO()
    call_command("purge_expired", stdout=out)

    assert "Deleted 2 expired tokens and 1 expired browser sessions." in out.getvalue()
    hashes = set(ApiToken.objects.values_list("key_hash", flat=True))
    assert services.token_hash(fresh) in hashes
    assert not {services.token_hash(old), services.token_hash(idle)} & hashes
    assert len(hashes) == tokens_before - 2
    assert list(DjangoSession.objects.values_list("session_key", flat=True)) == [alive]
    assert me(fresh) == 200
    assert browser.get(ME).status_code == 200
    again = io.StringIO()
    call_command("purge_expired", stdout=again)
    assert "Deleted 0 expired tokens and 0 expired browser sessions." in again.getvalue()


def test_a_browser_session_ends_eight_hours_after_sign_in_however_busy_she_is(
    world: World,
) -> None:
    lifetime = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        browser = Client()
        browser.force_login(world.users["member"])
        used = timedelta(0)
        while used + timedelta(hours=1) < lifetime:
            clock.shift(timedelta(hours=1))
            used += timedelta(hours=1)
            assert browser.get(ME).status_code == 200, used
            assert browser.get("/groups/").status_code == 200, used
        clock.shift(lifetime - used + timedelta(minutes=1))
        assert browser.get(ME).status_code == 401
        assert browser.get("/groups/").status_code == 302
