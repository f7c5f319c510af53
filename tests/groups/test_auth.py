"""Signing in with a token, lockouts, signing out, and what an account holds."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from groups import services
from groups.models import ApiToken, OrgRole, User
from tests.conftest import PASSWORD, make_staff

TOKEN_URL = "/api/v1/auth/token/"
REVOKE_URL = "/api/v1/auth/token/revoke/"
ME_URL = "/api/v1/me/"


def sign_in(username: str, password: str, *, ip: str = "203.0.113.10"):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def test_a_token_from_sign_in_works_as_an_authorization_header(world):
    response = sign_in("rose", PASSWORD)

    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["username"] == "rose"


def test_the_token_itself_is_not_stored_only_its_hash(world):
    token = sign_in("rose", PASSWORD).json()["token"]

    stored = list(ApiToken.objects.values_list("key_hash", flat=True))
    assert token not in stored
    assert all(token not in value for value in stored)


def test_sign_in_ignores_the_case_of_the_username(world):
    assert sign_in("ROSE", PASSWORD).status_code == 200


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(world):
    unknown = sign_in("nobody-here", PASSWORD)
    wrong = sign_in("rose", "not the password at all")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()
    assert unknown.json()["code"] == "invalid_credentials"


def test_a_deactivated_account_cannot_sign_in(world):
    response = sign_in("gone", PASSWORD)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


def fail_until_locked(username: str, *, ip: str) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(1, limit):
        response = sign_in(username, f"wrong password {attempt}", ip=ip)
        assert response.status_code == 400, f"attempt {attempt} answered {response.status_code}"
    sign_in(username, "wrong password, the last", ip=ip)


def test_after_the_failure_limit_even_the_right_password_is_locked_out(world):
    fail_until_locked("rose", ip="203.0.113.10")

    response = sign_in("rose", PASSWORD, ip="203.0.113.10")

    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert "token" not in response.json()


def test_one_failure_short_of_the_limit_still_signs_in(world):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in("rose", f"wrong {attempt}").status_code == 400

    assert sign_in("rose", PASSWORD).status_code == 200


def test_a_lockout_counts_the_username_in_any_case(world):
    fail_until_locked("ROSE", ip="203.0.113.10")

    assert sign_in("rose", PASSWORD, ip="203.0.113.10").status_code == 429


def test_a_lockout_is_per_ip_so_the_same_user_signs_in_from_elsewhere(world):
    fail_until_locked("rose", ip="203.0.113.10")

    response = sign_in("rose", PASSWORD, ip="198.51.100.20")

    assert response.status_code == 200
    assert "token" in response.json()


def test_a_lockout_of_one_user_does_not_lock_out_another_from_the_same_ip(world):
    fail_until_locked("rose", ip="203.0.113.10")

    assert sign_in("jade", PASSWORD, ip="203.0.113.10").status_code == 200


def test_an_unknown_username_locks_out_exactly_like_a_known_one(world):
    fail_until_locked("rose", ip="203.0.113.10")
    fail_until_locked("nobody-here", ip="203.0.113.10")

    known = sign_in("rose", PASSWORD, ip="203.0.113.10")
    unknown = sign_in("nobody-here", PASSWORD, ip="203.0.113.10")

    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()


def test_revoking_a_token_deletes_it_and_the_next_call_is_not_signed_in(world):
    client = world.client("member")
    tokens_before = ApiToken.objects.filter(user=world.user("member")).count()

    assert client.post(REVOKE_URL).status_code == 204

    assert ApiToken.objects.filter(user=world.user("member")).count() == tokens_before - 1
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_revoking_one_token_leaves_the_accounts_other_tokens_working(world):
    second = sign_in("rose", PASSWORD).json()["token"]

    assert world.client("member").post(REVOKE_URL).status_code == 204

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert other.get(ME_URL).status_code == 200


def test_revoke_with_a_session_cookie_signs_the_browser_out(world):
    client = APIClient()
    client.force_login(world.user("member"))
    assert client.get(ME_URL).status_code == 200

    assert client.post(REVOKE_URL).status_code == 204

    assert client.get(ME_URL).status_code == 401


def test_a_session_cookie_write_without_a_csrf_token_is_refused(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.user("member"))

    response = client.post(REVOKE_URL)

    assert response.status_code == 403
    assert client.get(ME_URL).status_code == 200


def test_a_malformed_authorization_header_is_not_signed_in(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two words")

    assert client.get(ME_URL).status_code == 401


@pytest.mark.usefixtures("real_hashers")
def test_new_passwords_are_hashed_with_argon2(db):
    # No `world` here: with the real hasher every persona would cost an argon2 round.
    host = make_staff("host", OrgRole.FACILITATOR)
    group = services.group_create(actor=host, name="G", description="", display_name="Host")
    _, code = services.invite_create(actor=host, group=group)

    response = APIClient().post(
        f"/api/v1/invites/{code}/redeem/",
        {"username": "newcomer", "password": PASSWORD, "display_name": "Newcomer"},
        format="json",
    )

    assert response.status_code == 201
    for user in [host, User.objects.get(username="newcomer")]:
        user.refresh_from_db()
        assert user.password.startswith("argon2")
        assert PASSWORD not in user.password
        assert user.check_password(PASSWORD)


def test_an_account_stores_no_email_or_real_name(world):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)
    response = APIClient().post(
        f"/api/v1/invites/{code}/redeem/",
        {
            "username": "newcomer",
            "password": PASSWORD,
            "display_name": "Newcomer",
            "email": "someone@example.org",
            "first_name": "Real",
            "last_name": "Name",
        },
        format="json",
    )
    assert response.status_code == 201

    user = User.objects.get(username="newcomer")
    assert (user.email, user.first_name, user.last_name) == ("", "", "")


def test_me_answers_username_org_role_and_preferences_only(world):
    response = world.client("facilitator").get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"username", "org_role", "preferences"}
    assert (body["username"], body["org_role"]) == ("fac-a", "facilitator")
    assert isinstance(body["preferences"], dict)


def test_me_of_a_member_says_she_has_no_org_role(world):
    body = world.client("member").get(ME_URL).json()

    assert set(body) == {"username", "org_role", "preferences"}
    assert body["org_role"] == "none"


def test_not_signed_in_answers_401_with_a_token_challenge(world):
    response = APIClient().get(ME_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_a_deactivated_accounts_browser_session_is_no_longer_signed_in(world):
    client = APIClient()
    client.force_login(world.user("member"))
    assert client.get(ME_URL).status_code == 200

    services.account_deactivate(actor=world.user("admin"), user=world.user("member"))

    assert client.get(ME_URL).status_code == 401
    assert not ApiToken.objects.filter(user=world.user("member")).exists()
