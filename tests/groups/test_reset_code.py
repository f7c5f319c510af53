"""A member who forgot her password (issue 16): an admin makes a one-time reset code from her
record and hands it over; with her username and the code she chooses a new password. The code
works once, for a day, replaces any older one, is stored only as a hash, and ends every session
of hers; a wrong code says only that it does not work. Her group's facilitators and admins make
codes (issue 17); nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from groups.models import ApiToken, ResetCode
from project.models import AuditEntry
from tests.conftest import World

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase"


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def make_code(world: World) -> str:
    member = world.members["member"]
    page = signed_in(world, "admin").post(
        f"/groups/{world.group_a.pk}/members/{member.pk}/reset-code/"
    )
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    return page.context["code"]


def reset(username: str, code: str, password: str = NEW_PASSWORD):
    return Client().post(
        "/signin/reset/", {"username": username, "code": code, "password": password}
    )


def test_she_chooses_a_new_password_with_the_code_once_and_is_signed_out_everywhere(world):
    her_browser = signed_in(world, "member")
    code = make_code(world)

    done = reset("rose", code.upper().replace("-", " "))
    again = reset("rose", code, "yet another passphrase")

    assert done.status_code == 302 and done["Location"] == "/signin/"
    user = world.users["member"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert again.status_code == 400 and "does not work" in again.content.decode()
    assert her_browser.get("/groups/").status_code == 302
    assert not ApiToken.objects.filter(user=user).exists()
    assert not ResetCode.objects.exists()
    issued = AuditEntry.objects.get(action="account.reset_code_issued")
    assert issued.actor == world.users["admin"] and code not in str(issued.extra)
    assert AuditEntry.objects.filter(action="account.password_reset_with_code").count() == 1


def test_only_a_hash_is_kept_and_a_newer_code_replaces_the_older_one(world):
    first = make_code(world)
    second = make_code(world)

    [stored] = ResetCode.objects.all()

    assert first.replace("-", "") not in stored.code_hash
    assert reset("rose", first).status_code == 400
    assert reset("rose", second).status_code == 302


def test_an_old_code_or_another_username_does_not_work_and_changes_nothing(world):
    code = make_code(world)
    ResetCode.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    expired = reset("rose", code)
    other = reset("jade", code)
    nobody = reset("nobody-here", code)

    for answer in (expired, other, nobody):
        assert answer.status_code == 400
        assert "That code does not work" in answer.content.decode()
    user = world.users["member"]
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"username": "", "code": "abcd", "password": NEW_PASSWORD}, "username"),
        ({"username": "rose", "code": "", "password": NEW_PASSWORD}, "code"),
        ({"username": "rose", "code": "abcd", "password": "short"}, "password"),
    ],
)
def test_a_missing_field_gets_an_error_summary_and_nothing_changes(world, form, field):
    code = make_code(world)

    answer = Client().post("/signin/reset/", form)

    assert answer.status_code == 400 and field in answer.context["errors"]
    assert f'href="#reset-{field}"' in answer.content.decode()
    assert reset("rose", code).status_code == 302  # the code still works afterwards


@pytest.mark.parametrize(
    "persona", ["other_facilitator", "safeguarding_lead", "peer_mentor", "member"]
)
def test_only_her_groups_facilitators_and_admins_make_a_reset_code(world, persona):
    member = world.members["member2"]

    answer = signed_in(world, persona).post(
        f"/groups/{world.group_a.pk}/members/{member.pk}/reset-code/"
    )

    assert answer.status_code == 404
    assert not ResetCode.objects.exists()


def test_the_facilitator_of_her_group_makes_a_reset_code_from_her_record(world):
    member = world.members["member2"]
    facilitator = signed_in(world, "facilitator")

    record = facilitator.get(f"/groups/{world.group_a.pk}/members/{member.pk}/")
    answer = facilitator.post(f"/groups/{world.group_a.pk}/members/{member.pk}/reset-code/")

    assert "Make a reset code" in record.content.decode()
    assert answer.status_code == 200 and answer.context["code"]
    issued = AuditEntry.objects.get(action="account.reset_code_issued")
    assert issued.actor == world.users["facilitator"]
    assert answer.context["code"] not in str(issued.extra)
    assert reset("jade", answer.context["code"]).status_code == 302


def test_the_facilitator_of_another_group_cannot_make_a_code_through_the_service(world):
    from groups.services import reset_code_issue
    from project.exceptions import NotFound

    with pytest.raises(NotFound):
        reset_code_issue(actor=world.users["other_facilitator"], member=world.members["member2"])
    assert not ResetCode.objects.exists()


def test_a_staff_account_gets_no_reset_code_here(world):
    staff = world.members["facilitator"]

    answer = signed_in(world, "admin").post(
        f"/groups/{world.group_a.pk}/members/{staff.pk}/reset-code/", follow=True
    )

    assert "Only a member" in answer.content.decode()
    assert not ResetCode.objects.exists()


def test_the_sign_in_page_says_what_to_do_if_she_forgot_her_password(world):
    page = Client().get("/signin/").content.decode()
    reset_page = Client().get("/signin/reset/").content.decode()

    assert 'href="/signin/reset/"' in page
    assert "Ask a facilitator for a one-time reset code" in reset_page
