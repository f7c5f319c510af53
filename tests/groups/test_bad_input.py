"""Bad input answers 400 in the PROTOCOL.md envelope, names the field, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from groups import services
from groups.models import ApiToken, Group, Invite, Membership, User
from project.models import AuditEntry
from tests.conftest import PASSWORD


def snapshot() -> dict[str, Any]:
    return {
        "users": sorted(User.objects.values_list("pk", "username", "is_active")),
        "groups": sorted(Group.objects.values_list("pk", "name", "description", "retention_days")),
        "memberships": sorted(Membership.objects.values_list("pk", "role", "status")),
        "invites": sorted(Invite.objects.values_list("pk", "uses", "max_uses", "revoked_at")),
        "tokens": ApiToken.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def fill(template: str, world, code: str) -> str:
    return template.format(group=world.group_a.pk, member=world.members["member"].pk, code=code)


GROUP = "/api/v1/groups/{group}/"
NEW = {"username": "newcomer", "password": PASSWORD}

# (persona, method, url, body, field named in extra.fields)
INVALID: dict[str, tuple[str, str, str, Any, str]] = {
    "group without a name": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"display_name": "S"},
        "name",
    ),
    "group without a display name": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": "G"},
        "display_name",
    ),
    "group name of 121 characters": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": "n" * 121, "display_name": "Sam"},
        "name",
    ),
    "group name of spaces": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": "   ", "display_name": "Sam"},
        "name",
    ),
    "group name null": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": None, "display_name": "Sam"},
        "name",
    ),
    "display name of 41 characters on create": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": "G", "display_name": "d" * 41},
        "display_name",
    ),
    "description of 2001 characters on create": (
        "facilitator",
        "post",
        "/api/v1/groups/",
        {"name": "G", "display_name": "Sam", "description": "d" * 2001},
        "description",
    ),
    "renaming to 121 characters": ("facilitator", "patch", GROUP, {"name": "n" * 121}, "name"),
    "description of 2001 characters": (
        "facilitator",
        "patch",
        GROUP,
        {"description": "d" * 2001},
        "description",
    ),
    "retention days as a word": (
        "facilitator",
        "patch",
        GROUP,
        {"retention_days": "x"},
        "retention_days",
    ),
    "retention days of zero": (
        "facilitator",
        "patch",
        GROUP,
        {"retention_days": 0},
        "retention_days",
    ),
    "retention days above a year": (
        "facilitator",
        "patch",
        GROUP,
        {"retention_days": 366},
        "retention_days",
    ),
    "retention days as a fraction": (
        "facilitator",
        "patch",
        GROUP,
        {"retention_days": 1.5},
        "retention_days",
    ),
    "max uses of zero": ("facilitator", "post", GROUP + "invites/", {"max_uses": 0}, "max_uses"),
    "max uses of 101": ("facilitator", "post", GROUP + "invites/", {"max_uses": 101}, "max_uses"),
    "max uses as a word": (
        "facilitator",
        "post",
        GROUP + "invites/",
        {"max_uses": "x"},
        "max_uses",
    ),
    "expiry of zero hours": (
        "facilitator",
        "post",
        GROUP + "invites/",
        {"expires_in_hours": 0},
        "expires_in_hours",
    ),
    "expiry beyond thirty days": (
        "facilitator",
        "post",
        GROUP + "invites/",
        {"expires_in_hours": 721},
        "expires_in_hours",
    ),
    "invite role that does not exist": (
        "facilitator",
        "post",
        GROUP + "invites/",
        {"role": "boss"},
        "role",
    ),
    "member role that does not exist": (
        "facilitator",
        "patch",
        GROUP + "members/{member}/",
        {"role": "boss"},
        "role",
    ),
    "member role missing": ("facilitator", "patch", GROUP + "members/{member}/", {}, "role"),
    "redeem without a display name": (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        NEW,
        "display_name",
    ),
    "redeem with a display name of 41 characters": (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {**NEW, "display_name": "d" * 41},
        "display_name",
    ),
    "redeem with an invisible character in the display name": (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {**NEW, "display_name": "Ro\u200bse"},
        "display_name",
    ),
    "redeem with a username that looks like a real name": (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {**NEW, "username": "Jane Smith", "display_name": "Jane"},
        "username",
    ),
    "redeem with a short password": (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {**NEW, "password": "short", "display_name": "Jane"},
        "password",
    ),
    "sign in without a password": (
        "anonymous",
        "post",
        "/api/v1/auth/token/",
        {"username": "rose"},
        "password",
    ),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_input_names_the_field_and_writes_nothing(world, name):
    persona, method, url, body, field = INVALID[name]
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    before = snapshot()

    response = getattr(world.client(persona), method)(fill(url, world, code), body, format="json")

    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert set(payload) == {"code", "message", "extra"}
    assert field in payload["extra"]["fields"], payload
    assert all(isinstance(m, str) for m in payload["extra"]["fields"][field])
    assert snapshot() == before


MALFORMED = [
    ("anonymous", "post", "/api/v1/auth/token/"),
    ("facilitator", "post", "/api/v1/groups/"),
    ("facilitator", "patch", GROUP),
    ("facilitator", "post", GROUP + "invites/"),
    ("facilitator", "patch", GROUP + "members/{member}/"),
    ("anonymous", "post", "/api/v1/invites/{code}/redeem/"),
]


@pytest.mark.parametrize(("persona", "method", "url"), MALFORMED)
def test_a_body_that_is_not_json_is_invalid_json_and_writes_nothing(world, persona, method, url):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    before = snapshot()

    response = getattr(world.client(persona), method)(
        fill(url, world, code), '{"name": "unterminated', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert snapshot() == before


def test_a_json_list_instead_of_an_object_is_invalid(world):
    before = snapshot()

    response = world.client("facilitator").post("/api/v1/groups/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert snapshot() == before


def test_a_form_encoded_body_is_refused_as_an_unsupported_media_type(world):
    before = snapshot()

    response = world.client("facilitator").post(
        "/api/v1/groups/", {"name": "G", "display_name": "Sam"}
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/groups/99999999999999999999999/"),
        ("get", "/api/v1/groups/9223372036854775808/members/"),
        ("get", "/api/v1/groups/0/"),
        ("delete", GROUP + "members/9223372036854775808/"),
        ("patch", GROUP + "members/99999999999999999999/"),
        ("delete", GROUP + "invites/99999999999999999999/"),
    ],
)
def test_ids_beyond_any_row_are_simply_not_found(world, method, url):
    before = snapshot()

    response = getattr(world.client("admin"), method)(
        fill(url, world, ""), {"role": "member"} if method == "patch" else None, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot() == before


# Characters PostgreSQL cannot store in text (NUL) or UTF-8 cannot encode (lone surrogates)
# must be refused as input, not crash the database call.
UNSTORABLE = {"nul": "Ro\x00se", "surrogate": "Ro\ud800se"}
TEXT_FIELDS = [
    ("facilitator", "post", "/api/v1/groups/", {"display_name": "Sam"}, "name"),
    ("facilitator", "post", "/api/v1/groups/", {"name": "G"}, "display_name"),
    ("facilitator", "post", "/api/v1/groups/", {"name": "G", "display_name": "S"}, "description"),
    ("facilitator", "patch", GROUP, {}, "description"),
    ("anonymous", "post", "/api/v1/invites/{code}/redeem/", NEW, "display_name"),
    (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {"password": PASSWORD, "display_name": "Newcomer"},
        "username",
    ),
    (
        "anonymous",
        "post",
        "/api/v1/invites/{code}/redeem/",
        {"username": "newcomer", "display_name": "Newcomer"},
        "password",
    ),
    ("anonymous", "post", "/api/v1/auth/token/", {"password": PASSWORD}, "username"),
    ("anonymous", "post", "/api/v1/auth/token/", {"username": "rose"}, "password"),
]


@pytest.mark.parametrize("kind", list(UNSTORABLE))
@pytest.mark.parametrize(
    ("persona", "method", "url", "body", "field"),
    TEXT_FIELDS,
    ids=[f"{method}-{url}-{field}" for _, method, url, _, field in TEXT_FIELDS],
)
def test_unstorable_characters_are_invalid_not_a_crash(
    world, kind, persona, method, url, body, field
):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    before = snapshot()

    # json.dumps escapes both as \u0000 / \ud800, as a hostile client would send them.
    raw = json.dumps({**body, field: UNSTORABLE[kind]})
    response = getattr(world.client(persona), method)(
        fill(url, world, code), raw, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert snapshot() == before
