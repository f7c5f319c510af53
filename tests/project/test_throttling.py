"""REST throttles (issue 13): sign-in, invite redemption (per address and per code), raising a
concern, proposals and export; counted in the cache, answered 429 `rate_limited`, and a refused
request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from groups import services as group_services
from groups.models import Membership, User
from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import CONCERNS, concern_input

TOKEN_URL = "/api/v1/auth/token/"


def rate(scope: str) -> int:
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].split("/")[0])


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429, (response.status_code, response.content[:200])
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["extra"]["retry_after"] >= 1


def test_sign_in_is_limited_per_address_whatever_the_username(db: None) -> None:
    client = APIClient()
    for n in range(rate("signin")):
        answer = client.post(
            TOKEN_URL,
            {"username": f"u{n}", "password": "x"},
            format="json",
            REMOTE_ADDR="198.51.100.7",
        )
        assert answer.status_code == 400, n
    assert_rate_limited(
        client.post(
            TOKEN_URL, {"username": "u", "password": "x"}, format="json", REMOTE_ADDR="198.51.100.7"
        )
    )
    # Another address is counted apart.
    other = client.post(
        TOKEN_URL, {"username": "u", "password": "x"}, format="json", REMOTE_ADDR="198.51.100.8"
    )
    assert other.status_code == 400


def test_a_forged_x_forwarded_for_does_not_reset_the_count(db: None) -> None:
    """DRF's own throttles would read the raw header: ours use project.clientip."""
    client = APIClient()
    for n in range(rate("signin")):
        client.post(
            TOKEN_URL,
            {"username": f"u{n}", "password": "x"},
            format="json",
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert_rate_limited(
        client.post(
            TOKEN_URL,
            {"username": "u", "password": "x"},
            format="json",
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR="203.0.113.250",
        )
    )


def _code(world: World, uses: int = 1) -> str:
    _, code = group_services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, max_uses=uses
    )
    return code


def _redeem(code: str, username: str, *, ip: str) -> Any:
    return APIClient().post(
        f"/api/v1/invites/{code}/redeem/",
        {"username": username, "password": "a long enough password", "display_name": "Nova"},
        format="json",
        REMOTE_ADDR=ip,
    )


def test_one_code_cannot_test_usernames_without_end_even_from_many_addresses(
    world: World,
) -> None:
    code = _code(world)
    for n in range(rate("invite_code")):
        answer = _redeem(code, "rose", ip=f"198.51.100.{n + 1}")
        assert answer.json()["code"] == "username_taken", n
    assert_rate_limited(_redeem(code, "rose", ip="198.51.100.250"))
    assert_rate_limited(_redeem(code, "new-person", ip="198.51.100.251"))
    assert not User.objects.filter(username="new-person").exists()


def test_one_address_cannot_try_codes_without_end(db: None) -> None:
    for n in range(rate("invite_redeem")):
        assert _redeem(f"NOPE-{n:04d}", "someone", ip="198.51.100.9").status_code == 404
    assert_rate_limited(_redeem("NOPE-LAST", "someone", ip="198.51.100.9"))


def test_the_join_page_counts_with_the_same_limits(world: World) -> None:
    code = _code(world)
    browser = Client(REMOTE_ADDR="198.51.100.10")
    form = {"code": code, "display_name": "Nova", "username": "rose", "password": "long enough pw"}
    for _n in range(rate("invite_redeem")):
        assert browser.post("/join/", form).status_code == 400
    refused = browser.post("/join/", {**form, "username": "fresh-name"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert not User.objects.filter(username="fresh-name").exists()


def test_raising_concerns_is_limited_per_account(world: World) -> None:
    client = world.client("member")
    for n in range(rate("concern_raise")):
        assert client.post(CONCERNS, concern_input(world), format="json").status_code == 201, n
    before = Concern.objects.count()
    assert_rate_limited(client.post(CONCERNS, concern_input(world), format="json"))
    assert Concern.objects.count() == before
    # Someone else is counted apart.
    other = world.client("peer_mentor").post(CONCERNS, concern_input(world), format="json")
    assert other.status_code == 201


def test_proposals_are_limited_per_account(world: World) -> None:
    url = f"/api/v1/groups/{world.group_a.pk}/agreement/proposals/"
    client = world.client("member")
    for n in range(rate("proposal")):
        assert client.post(url, {"text": f"Point {n}"}, format="json").status_code == 201
    assert_rate_limited(client.post(url, {"text": "One more"}, format="json"))
    member: Membership = world.members["member"]
    assert member.proposals.count() == rate("proposal")


def test_export_is_limited_per_account(world: World) -> None:
    client = world.client("member")
    for _n in range(rate("export")):
        assert client.get("/api/v1/me/export/").status_code == 200
    assert_rate_limited(client.get("/api/v1/me/export/"))


def test_routes_that_are_not_limited_stay_unlimited(world: World) -> None:
    client = world.client("member")
    for _n in range(40):
        assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/auth/token/", "post"),
        ("/api/v1/invites/{code}/redeem/", "post"),
        ("/api/v1/concerns/", "post"),
        ("/api/v1/groups/{group_id}/agreement/proposals/", "post"),
        ("/api/v1/me/export/", "get"),
    ],
)
def test_the_schema_documents_the_429_of_every_limited_route(
    db: None, path: str, method: str
) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    assert "429" in schema["paths"][path][method]["responses"]


def test_with_redis_the_cache_is_djangos_redis_cache_under_its_own_prefix() -> None:
    from project import config

    cache = config.cache_config({"REDIS_URL": "redis://r:6379/1"}, prefix="haven")["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["KEY_PREFIX"] == "haven-cache"
    local = config.cache_config({}, prefix="haven")["default"]
    assert local["BACKEND"].endswith("LocMemCache")
