"""The per-username slow-down (issue 13): address-independent, never a lockout by itself."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from groups.services import slowdown
from tests.conftest import PASSWORD, World

TOKEN_URL = "/api/v1/auth/token/"


def sign_in(password: str, *, ip: str, username: str = "rose") -> tuple[int, dict]:
    response = APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )
    return response.status_code, response.json()


@pytest.fixture
def local_cache(settings: Any) -> None:
    """Tests that move the clock: Redis expires keys by its own clock, the local cache by ours."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def fail_from_many_addresses(count: int, *, username: str = "rose") -> None:
    for n in range(count):
        status, body = sign_in(f"wrong {n}", ip=f"198.51.100.{n + 1}", username=username)
        assert (status, body["code"]) == (400, "invalid_credentials"), (n, body)


def test_past_the_limit_from_many_addresses_the_next_attempt_is_slowed_down(world: World) -> None:
    limit = settings.HAVEN_USERNAME_FAILURE_LIMIT
    with time_machine.travel("2026-05-01 10:00:00", tick=False):
        fail_from_many_addresses(limit)
        # The first attempt past the limit is tried (and fails); the next must wait.
        assert sign_in("wrong again", ip="198.51.100.200")[0] == 400
        status, body = sign_in(PASSWORD, ip="198.51.100.201")
    assert status == 429
    assert body["code"] == "rate_limited"
    assert body["extra"]["retry_after"] == 2
    assert "token" not in body


def test_after_the_delay_the_right_password_still_signs_her_in(
    world: World, local_cache: None
) -> None:
    limit = settings.HAVEN_USERNAME_FAILURE_LIMIT
    with time_machine.travel("2026-05-01 10:00:00", tick=False) as clock:
        fail_from_many_addresses(limit + 1)
        assert sign_in(PASSWORD, ip="203.0.113.10")[0] == 429
        clock.shift(3)
        status, body = sign_in(PASSWORD, ip="203.0.113.10")
        assert status == 200 and "token" in body
        # Signing in cleared the count: a mistype afterwards is an ordinary one.
        assert sign_in("typo", ip="203.0.113.10")[0] == 400
        assert sign_in(PASSWORD, ip="203.0.113.10")[0] == 200


def test_the_delay_grows_with_each_failure_and_stops_at_a_minute() -> None:
    limit = 10
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "HAVEN_USERNAME_FAILURE_LIMIT", limit, raising=False)
        delays = [slowdown.delay_after(failures) for failures in range(limit - 1, limit + 9)]
    assert delays == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_one_username_slowed_down_leaves_the_others_alone(world: World) -> None:
    with time_machine.travel("2026-05-01 10:00:00", tick=False):
        fail_from_many_addresses(settings.HAVEN_USERNAME_FAILURE_LIMIT + 1)
        assert sign_in(PASSWORD, ip="198.51.100.250", username="jade")[0] == 200


def test_the_count_is_forgotten_after_the_window(world: World, local_cache: None) -> None:
    with time_machine.travel("2026-05-01 10:00:00", tick=False) as clock:
        fail_from_many_addresses(settings.HAVEN_USERNAME_FAILURE_LIMIT + 1)
        clock.shift(slowdown.WINDOW.total_seconds() + 1)
        assert sign_in(PASSWORD, ip="198.51.100.250")[0] == 200


def test_the_cache_never_holds_the_username(world: World) -> None:
    from django.core.cache import cache

    fail_from_many_addresses(1)
    keys = [slowdown._key("failures", "rose")]
    assert cache.get(keys[0]) == 1
    assert all("rose" not in key for key in keys)
