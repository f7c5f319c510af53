"""Cookies on a shared device (issue 13): nothing outlives the browser."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.django_db
def test_the_csrf_cookie_is_a_session_cookie() -> None:
    response = Client().get("/signin/")
    cookie = response.cookies[settings.CSRF_COOKIE_NAME]

    assert cookie.value
    assert not cookie["max-age"]
    assert not cookie["expires"]


def test_the_csrf_cookie_lives_no_longer_than_the_browser_session() -> None:
    assert settings.CSRF_COOKIE_AGE is None
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
