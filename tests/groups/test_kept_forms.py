"""Forms keep what she typed after an error, never a password (issue 17): the sign-in page and
the reset-code page answer with a GOV.UK error summary linking to the field, the message at the
field and "Error:" in the title; an empty field is answered without counting as a failed try."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from groups.models import ResetCode
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"
IP = "203.0.113.44"


def sign_in(username: str, password: str) -> tuple[int, str]:
    answer = Client().post(SIGNIN, {"username": username, "password": password}, REMOTE_ADDR=IP)
    return answer.status_code, answer.content.decode()


def value_of(html: str, field_id: str) -> str | None:
    found = re.search(rf'<input id="{field_id}"[^>]*>', html)
    assert found, f"no #{field_id} on the page"
    value = re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else None


def test_a_wrong_password_keeps_her_username_but_never_the_password(world: World) -> None:
    status, html = sign_in("rose", "not the right one at all")

    assert status == 400
    assert "<title>Error: Sign in \N{EN DASH} Haven</title>" in html
    assert 'class="error-summary"' in html and '<a href="#password">' in html
    assert 'id="password-error"' in html and 'aria-invalid="true"' in html
    assert value_of(html, "username") == "rose"
    assert value_of(html, "password") is None
    assert "not the right one at all" not in html


def test_an_unknown_username_gets_the_same_page_as_a_wrong_password(world: World) -> None:
    _s, wrong = sign_in("rose", "not the right one at all")
    _s, unknown = sign_in("nobody-here", "not the right one at all")

    def plain(html: str, name: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html).replace(name, "NAME")

    assert plain(wrong, "rose") == plain(unknown, "nobody-here")


def test_empty_fields_are_listed_at_once_and_do_not_count_as_a_try(world: World) -> None:
    from axes.models import AccessAttempt

    status, html = sign_in("  ", "")

    assert status == 400
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert summary.index("#username") < summary.index("#password")
    assert "Enter your username." in html and "Enter your password." in html
    assert not AccessAttempt.objects.exists()


def test_signing_in_after_an_error_still_works(world: World) -> None:
    sign_in("rose", "not the right one at all")

    status, _html = sign_in("rose", PASSWORD)

    assert status == 302


def test_the_first_page_has_no_error_and_no_error_title(world: World) -> None:
    html = Client().get(SIGNIN).content.decode()

    assert "<title>Sign in \N{EN DASH} Haven</title>" in html
    assert "error-summary" not in html


def test_the_reset_page_keeps_her_username_and_code_never_the_new_password(world: World) -> None:
    from groups.services import reset_code_issue

    code = reset_code_issue(actor=world.users["facilitator"], member=world.members["member"])
    answer = Client().post(
        "/signin/reset/", {"username": "rose", "code": code, "password": "short"}
    )

    html = answer.content.decode()
    assert answer.status_code == 400
    assert "<title>Error: Choose a new password \N{EN DASH} Haven</title>" in html
    assert '<a href="#reset-password">' in html
    assert value_of(html, "reset-username") == "rose"
    assert value_of(html, "reset-code") == code
    assert value_of(html, "reset-password") is None
    assert ResetCode.objects.count() == 1  # the code still works: nothing was used up
