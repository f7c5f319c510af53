"""A second factor for staff (issue 13): facilitators, safeguarding leads and admins sign in
with a password and then a code from an authenticator app (or a one-time recovery code);
members stay password-only. A staff browser session counts as signed in only after the code,
for pages, REST and the live room alike."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from groups import services
from groups.models import OrgRole
from tests.conftest import PASSWORD, World, staff_secret, totp_code
from tests.facilitation.room import amake_room
from tests.facilitation.test_ws_handshake import (
    CLOSED_SIGNED_OUT,
    HOST,
    ORIGIN,
    communicator,
    entered,
)

TOKEN_URL = "/api/v1/auth/token/"
CODE_PAGE = "/signin/code/"


def token(username: str, password: str = PASSWORD, **extra: Any) -> Any:
    body = {"username": username, "password": password, **extra}
    return APIClient().post(TOKEN_URL, body, format="json", REMOTE_ADDR="203.0.113.20")


def otp_error(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["extra"]["fields"]["otp"]


# --- enrolment ---------------------------------------------------------------------------------


def test_staff_create_enrols_an_authenticator_and_ten_one_time_recovery_codes(db: None) -> None:
    created = services.staff_create(
        actor=None, username="new-lead", password=PASSWORD, org_role=OrgRole.SAFEGUARDING_LEAD
    )
    assert TOTPDevice.objects.filter(user=created.user, confirmed=True).count() == 1
    static = StaticDevice.objects.get(user=created.user)
    assert sorted(static.token_set.values_list("token", flat=True)) == sorted(
        created.enrolment.recovery_codes
    )
    assert len(created.enrolment.recovery_codes) == 10
    assert staff_secret(created.user) == created.enrolment.totp_secret


# --- the token route ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["facilitator", "safeguarding_lead", "admin"])
def test_staff_get_no_token_without_the_code(world: World, persona: str) -> None:
    username = world.users[persona].username
    assert otp_error(token(username)) == ["Enter the 6-digit code from your authenticator app."]
    assert otp_error(token(username, otp="")) == [
        "Enter the 6-digit code from your authenticator app."
    ]


def test_a_wrong_code_is_refused_and_the_right_one_signs_in_once(world: World) -> None:
    user = world.users["facilitator"]
    secret = staff_secret(user)
    right = totp_code(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    assert otp_error(token(user.username, otp=wrong))
    # django-otp slows a device down after a failure (1 s, then doubling).
    time.sleep(1.1)
    answer = token(user.username, otp=right)
    assert answer.status_code == 200 and answer.json()["token"]
    # The same code a second time is refused: a code works once.
    assert otp_error(token(user.username, otp=right))


def test_a_wrong_password_says_nothing_about_a_second_factor(world: World) -> None:
    answer = token(world.users["facilitator"].username, password="not it at all", otp="123456")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_credentials"


def test_a_recovery_code_works_once(world: World) -> None:
    user = world.users["admin"]
    code = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)[0]

    assert token(user.username, otp=code.upper()).status_code == 200
    time.sleep(0.1)
    assert otp_error(token(user.username, otp=code))
    assert not StaticToken.objects.filter(device__user=user, token=code).exists()


def test_members_stay_password_only(world: World) -> None:
    assert token("rose").status_code == 200
    assert token("rose", otp="whatever").status_code == 200
    assert not TOTPDevice.objects.filter(user=world.users["member"]).exists()


# --- pages -------------------------------------------------------------------------------------


def password_step(browser: Client, username: str) -> Any:
    return browser.post("/signin/", {"username": username, "password": PASSWORD})


def test_the_sign_in_page_asks_staff_for_the_code_on_a_second_page(world: World) -> None:
    browser = Client()
    first = password_step(browser, world.users["facilitator"].username)
    assert first.status_code == 302 and first["Location"] == CODE_PAGE
    # Not signed in yet: every page and the API treat her as signed out.
    assert browser.get("/groups/").status_code == 302
    assert browser.get("/api/v1/me/").status_code in {401, 403}

    page = browser.get(CODE_PAGE).content.decode()
    assert "Enter the 6-digit code from your authenticator app" in page
    assert 'autocomplete="one-time-code"' in page

    done = browser.post(CODE_PAGE, {"otp": totp_code(staff_secret(world.users["facilitator"]))})
    assert done.status_code == 302 and done["Location"] == "/groups/"
    assert browser.get("/groups/").status_code == 200
    assert browser.get("/api/v1/me/").json()["username"] == "fac-a"


def test_a_wrong_code_shows_an_error_summary_and_the_field_error(world: World) -> None:
    browser = Client()
    password_step(browser, world.users["safeguarding_lead"].username)

    answer = browser.post(CODE_PAGE, {"otp": "000000x"})

    assert answer.status_code == 400
    html = answer.content.decode()
    assert 'class="error-summary"' in html and 'href="#otp"' in html
    assert 'id="otp-error"' in html and 'aria-invalid="true"' in html
    assert "That code did not work" in html
    assert browser.get("/groups/").status_code == 302


def test_members_are_signed_in_by_the_password_alone(world: World) -> None:
    browser = Client()
    answer = password_step(browser, "rose")
    assert answer["Location"] == "/groups/"
    assert browser.get("/groups/").status_code == 200


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(db: None) -> None:
    assert Client().get(CODE_PAGE)["Location"] == "/signin/"
    assert Client().post(CODE_PAGE, {"otp": "123456"})["Location"] == "/signin/"


def test_the_code_must_come_within_five_minutes_of_the_password(world: World) -> None:
    browser = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        password_step(browser, world.users["facilitator"].username)
        clock.shift(301)
        code = totp_code(staff_secret(world.users["facilitator"]))
        late = browser.post(CODE_PAGE, {"otp": code})
    assert late["Location"] == "/signin/"
    assert browser.get("/groups/").status_code == 302


def admin_signed_in_without_code(world: World) -> Client:
    """A staff session made by another way in than Haven's sign-in (Django admin's login
    form): signed in by password only."""
    browser = Client()
    answer = browser.post(
        "/staff/admin/login/", {"username": world.users["admin"].username, "password": PASSWORD}
    )
    assert answer.status_code in {200, 302}
    assert settings.SESSION_COOKIE_NAME in browser.cookies
    return browser


def test_a_staff_session_without_its_code_is_refused_by_pages_rest_and_admin(
    world: World,
) -> None:
    browser = admin_signed_in_without_code(world)

    assert browser.get("/groups/").status_code == 302
    assert browser.get("/api/v1/me/").status_code in {401, 403}
    assert browser.get("/api/v1/audit/").status_code in {401, 403}
    assert browser.get("/staff/admin/").status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_a_staff_session_without_its_code_cannot_open_a_socket() -> None:
    room = await amake_room()
    browser = await database_sync_to_async(admin_signed_in_facilitator)(room.world)
    name = settings.SESSION_COOKIE_NAME
    comm = communicator(
        room, ORIGIN, HOST, (b"cookie", f"{name}={browser.cookies[name].value}".encode())
    )

    await comm.connect()

    assert await comm.receive_output(timeout=3) == CLOSED_SIGNED_OUT
    await comm.disconnect()


def admin_signed_in_facilitator(world: World) -> Client:
    """The group's facilitator, signed in by password only (her session has no code)."""
    from django.contrib.auth import login
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = SessionStore()
    login(request, world.users["facilitator"], backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return browser


@pytest.mark.django_db(transaction=True)
async def test_a_staff_session_with_its_code_enters_the_room() -> None:
    room = await amake_room()
    browser = Client()
    await database_sync_to_async(browser.force_login)(room.world.user("facilitator"))
    name = settings.SESSION_COOKIE_NAME
    comm = communicator(
        room, ORIGIN, HOST, (b"cookie", f"{name}={browser.cookies[name].value}".encode())
    )

    state = await entered(comm)

    assert state["me"]["role"] == "facilitator"
    await comm.disconnect()


def test_staff_enrol_gives_an_existing_staff_account_a_new_key_and_codes(world: World) -> None:
    import io
    import re

    from django.core.management import call_command
    from django.core.management.base import CommandError

    user = world.users["facilitator"]
    old = staff_secret(user)
    out = io.StringIO()

    call_command("staff_enrol", user.username, stdout=out)

    printed = re.search(r"\(shown only now\):\n  ([A-Z2-7]+)", out.getvalue())
    assert printed is not None and printed.group(1) == staff_secret(user) != old
    assert token(user.username, otp=totp_code(printed.group(1))).status_code == 200
    with pytest.raises(CommandError):
        call_command("staff_enrol", "rose", stdout=io.StringIO())
