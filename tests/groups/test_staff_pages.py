"""Staff accounts in the pages (issue 16, the lead's view): an admin adds a staff member (her
first sign-in details shown once), changes a role, switches an account off (signed out
everywhere at once) or on again. The organisation always keeps an admin; anyone else gets 404."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session as BrowserSession
from django.test import Client

from groups.models import ApiToken, OrgRole, User
from groups.services.accounts import credentials_check
from project.models import AuditEntry
from tests.conftest import World, totp_code

pytestmark = pytest.mark.django_db


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def test_an_admin_adds_a_staff_member_and_sees_her_first_sign_in_details_once(world, rf):
    admin = signed_in(world, "admin")

    page = admin.post("/staff/", {"username": "sam-new", "role": "facilitator"})

    assert page.status_code == 200
    added = page.context["added"]
    assert added.created.user.username == "sam-new"
    assert added.created.user.org_role == OrgRole.FACILITATOR
    text = page.content.decode()
    assert added.password in text and added.created.enrolment.totp_secret in text
    assert all(code in text for code in added.created.enrolment.recovery_codes)
    assert "no-store" in page["Cache-Control"]
    # She can sign in with them: the password, then her app's code.
    request = rf.post("/signin/")
    request.session = Client().session
    assert credentials_check(request=request, username="sam-new", password=added.password)
    assert len(totp_code(added.created.enrolment.totp_secret)) == 6
    entry = AuditEntry.objects.get(
        action="account.staff_created", target_id=str(added.created.user.pk)
    )
    assert entry.actor == world.users["admin"] and added.password not in str(entry.extra)
    # The list shows her afterwards, without any secret.
    listing = admin.get("/staff/").content.decode()
    assert "sam-new" in listing and added.password not in listing


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"username": "", "role": "facilitator"}, "username"),
        ({"username": "Not Allowed!", "role": "facilitator"}, "username"),
        ({"username": "sam-new", "role": ""}, "role"),
        ({"username": "sam-new", "role": "member"}, "role"),
    ],
)
def test_bad_input_is_shown_in_an_error_summary_and_adds_nobody(world, form, field):
    before = User.objects.count()

    page = signed_in(world, "admin").post("/staff/", form)

    assert page.status_code == 400
    assert field in page.context["errors"]
    text = page.content.decode()
    assert "There is a problem" in text
    if field == "username":
        assert 'aria-invalid="true"' in text
    assert User.objects.count() == before


def test_a_taken_username_is_refused_on_the_username(world):
    page = signed_in(world, "admin").post("/staff/", {"username": "rose", "role": "admin"})

    assert page.status_code == 409 and "username" in page.context["errors"]
    assert world.users["member"].org_role == OrgRole.NONE


def test_an_admin_changes_a_role_and_it_is_audited(world):
    lead = world.users["safeguarding_lead"]

    signed_in(world, "admin").post(f"/staff/{lead.pk}/role/", {"role": "facilitator"})

    lead.refresh_from_db()
    assert lead.org_role == OrgRole.FACILITATOR
    entry = AuditEntry.objects.get(action="account.role_changed")
    assert entry.extra == {"from": "safeguarding_lead", "to": "facilitator"}


def test_the_only_admin_cannot_stop_being_one_nor_switch_herself_off(world):
    admin = world.users["admin"]
    browser = signed_in(world, "admin")

    demoted = browser.post(f"/staff/{admin.pk}/role/", {"role": "facilitator"}, follow=True)
    off = browser.post(f"/staff/{admin.pk}/switch-off/", follow=True)

    admin.refresh_from_db()
    assert admin.org_role == OrgRole.ADMIN and admin.is_active
    assert "This is the only admin" in demoted.content.decode()
    assert "You cannot switch off your own account" in off.content.decode()


def test_switching_an_account_off_asks_first_then_signs_her_out_everywhere(world):
    facilitator = world.users["facilitator"]
    her_browser = signed_in(world, "facilitator")
    assert her_browser.get("/concerns/").status_code == 200
    admin = signed_in(world, "admin")

    asked = admin.get(f"/staff/{facilitator.pk}/switch-off/")
    facilitator.refresh_from_db()
    assert asked.status_code == 200 and facilitator.is_active
    assert f"Switch off {facilitator.username}'s account?" in asked.content.decode()

    admin.post(f"/staff/{facilitator.pk}/switch-off/")

    facilitator.refresh_from_db()
    assert not facilitator.is_active
    assert not ApiToken.objects.filter(user=facilitator).exists()
    assert her_browser.get("/concerns/").status_code == 302
    sessions = [s.get_decoded().get("_auth_user_id") for s in BrowserSession.objects.all()]
    assert str(facilitator.pk) not in sessions
    assert AuditEntry.objects.filter(
        action="account.deactivated", target_id=str(facilitator.pk)
    ).exists()
    assert world.client("facilitator").get("/api/v1/me/").status_code == 401

    admin.post(f"/staff/{facilitator.pk}/switch-on/")
    facilitator.refresh_from_db()
    assert facilitator.is_active
    assert AuditEntry.objects.filter(action="account.reactivated").count() == 1


def test_members_are_not_managed_here(world):
    member = world.users["member"]

    page = signed_in(world, "admin").get(f"/staff/{member.pk}/switch-off/")

    assert page.status_code == 404
    assert member.username not in [
        u.username for u in signed_in(world, "admin").get("/staff/").context["staff"]
    ]


@pytest.mark.parametrize(
    "persona", ["member", "peer_mentor", "facilitator", "safeguarding_lead", "outsider"]
)
def test_anyone_but_an_admin_gets_404_as_if_the_pages_did_not_exist(world, persona):
    browser = signed_in(world, persona)
    target = world.users["other_facilitator"].pk

    answers = [
        browser.get("/staff/").status_code,
        browser.post("/staff/", {"username": "sneaky", "role": "admin"}).status_code,
        browser.post(f"/staff/{target}/role/", {"role": "admin"}).status_code,
        browser.post(f"/staff/{target}/switch-off/").status_code,
    ]

    assert answers == [404, 404, 404, 404]
    assert not User.objects.filter(username="sneaky").exists()
    assert world.users["other_facilitator"].org_role == OrgRole.FACILITATOR
    assert Client().get("/staff/").status_code == 302
