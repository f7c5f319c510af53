"""The quick exit's mark (groups.middleware.QuickExitMiddleware): exit.js leaves a cookie before
the page goes, so a request that reaches Haven before the sign-out beacon (Back pressed at once,
a busy server) still finds this browser signed out. The beacon itself keeps its work: telling
the hosts she left quickly is tests/facilitation/test_left_quickly.py's, closing her sockets
tests/security/test_signout_sockets.py's.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import World

MARK = settings.HAVEN_LEFT_COOKIE_NAME


def signed_in(world: World, persona: str = "member") -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    assert browser.get("/groups/").status_code == 200
    return browser


def mark_deleted(response) -> bool:
    cookie = response.cookies.get(MARK)
    return cookie is not None and cookie.value == "" and cookie["max-age"] == 0


@pytest.mark.parametrize("path", ["/groups/", "/settings/", "/"])
def test_a_page_asked_for_with_the_mark_finds_this_browser_signed_out(world, path):
    browser = signed_in(world)
    old_session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    browser.cookies[MARK] = "1"

    response = browser.get(path)

    assert mark_deleted(response)
    assert "_auth_user_id" not in browser.session
    # Nothing of her groups on the way out, and the session is gone on the server too.
    assert response.status_code in (200, 302)
    assert world.group_a.name not in response.content.decode()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_session
    assert replay.get("/groups/")["Location"].startswith("/signin/")


def test_without_the_mark_she_stays_signed_in(world):
    browser = signed_in(world)
    response = browser.get("/groups/")
    assert response.status_code == 200 and MARK not in response.cookies
    assert world.group_a.name in response.content.decode()


def test_someone_signed_out_with_the_mark_only_has_it_deleted(db):
    browser = Client()
    browser.cookies[MARK] = "1"
    response = browser.get("/signin/")
    assert response.status_code == 200 and mark_deleted(response)


def test_the_beacon_carrying_the_mark_signs_out_once_and_answers_as_before(world):
    browser = signed_in(world)
    browser.cookies[MARK] = "1"
    response = browser.post("/signout/", {"beacon": "1"})
    assert response.status_code == 204 and mark_deleted(response)
    assert browser.get("/groups/")["Location"].startswith("/signin/")
