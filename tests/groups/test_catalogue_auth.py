"""Security catalogue rows 24 and 28, the parts other tests did not reach: the cookie sign-in
refuses a post without its CSRF token (and one with a foreign Origin), and an old PBKDF2 hash
becomes Argon2 the first time she signs in with it."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from groups.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"


def test_the_cookie_sign_in_refuses_a_post_without_its_csrf_token() -> None:
    User.objects.create_user(username="rose-csrf", password=PASSWORD)
    browser = Client(enforce_csrf_checks=True)

    answer = browser.post(SIGNIN, {"username": "rose-csrf", "password": PASSWORD})

    assert answer.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_a_valid_token_from_a_foreign_origin_is_refused_too() -> None:
    User.objects.create_user(username="rose-origin", password=PASSWORD)
    browser = Client(enforce_csrf_checks=True)
    browser.get(SIGNIN)
    token = browser.cookies["csrftoken"].value
    form = {"username": "rose-origin", "password": PASSWORD, "csrfmiddlewaretoken": token}

    foreign = browser.post(SIGNIN, form, HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403
    assert "_auth_user_id" not in browser.session

    same = browser.post(SIGNIN, form, HTTP_ORIGIN="http://testserver")
    assert same.status_code == 302
    assert browser.session["_auth_user_id"] == str(User.objects.get(username="rose-origin").pk)


@pytest.mark.usefixtures("real_hashers")
def test_an_old_pbkdf2_hash_becomes_argon2_when_she_signs_in() -> None:
    user = User.objects.create(
        username="rose-legacy", password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    assert user.password.startswith("pbkdf2_sha256$")

    answer = Client().post(SIGNIN, {"username": "rose-legacy", "password": PASSWORD})

    assert answer.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert user.check_password(PASSWORD)
