"""The organisation's words from the admin (issue 17: "environment or admin"): the demo admin
sets the name and contact line in the Django admin; a visitor on a 360x740 phone then reads them
on the front door (in view, without scrolling) and on About. Axe 0 on both pages; screenshots
in var/screenshots/organisation-*.png."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import sign_in, submit
from tests.browser.roomkit import DESKTOP, PHONE, assert_no_axe, expect_in_view

pytestmark = pytest.mark.browser

ADMIN = "demo-admin"
NAME = "Riverside Women's Project"
CONTACT = "0800 000 1234, Monday to Friday 10am to 4pm"


def test_an_admin_names_the_organisation_and_the_front_door_says_it(
    new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> None:
    admin = new_context(viewport=DESKTOP).new_page()
    sign_in(admin, ADMIN, credentials[ADMIN])
    admin.goto("/staff/admin/project/organisation/add/")
    admin.locator("#id_name").fill(NAME)
    admin.locator("#id_contact").fill(CONTACT)
    submit(admin, admin.locator("input[name=_save]"))
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")

    visitor = new_context(viewport=PHONE, bypass_csp=True).new_page()
    visitor.goto("/")
    expect_in_view(
        visitor.get_by_text(f"Peer support groups run by {NAME}.", exact=True), "the front line"
    )
    expect(visitor.locator("#org-contact")).to_have_text(f"Contact: {CONTACT}")
    assert_no_axe(visitor, "organisation-landing-phone")

    visitor.goto("/about/")
    expect(visitor.locator("#org-contact")).to_have_text(f"Contact: {CONTACT}")
    expect(visitor.get_by_text(NAME, exact=False).first).to_be_visible()
    assert_no_axe(visitor, "organisation-about-phone")
