"""Forms keep what she typed after an error, never the password (issue 17), on a 360x740 phone
and a 1280x800 laptop: the sign-in page and the reset-code page answer a mistake with the GOV.UK
error summary in view, "Error:" in the title, the message at the field, her username (and code)
still there and the password field empty. Axe 0 on every state; screenshots in
var/screenshots/kept-forms-*.png."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import submit
from tests.browser.roomkit import DESKTOP, PHONE, ROSE, assert_no_axe, expect_in_view

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_sign_in_page_keeps_her_username_after_a_wrong_password(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    size: str,
    viewport: dict[str, int],
) -> None:
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    page.goto("/signin/")
    page.locator("#username").fill(ROSE)
    page.locator("#password").fill("not my password at all")
    submit(page, page.get_by_role("button", name="Sign in", exact=True))

    expect(page).to_have_title("Error: Sign in \N{EN DASH} Haven")
    summary = page.locator(".error-summary")
    expect_in_view(summary, "the error summary")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#password")
    expect(page.locator("#password-error")).to_contain_text("do not match")
    expect(page.locator("#username")).to_have_value(ROSE)
    expect(page.locator("#password")).to_have_value("")
    assert_no_axe(page, f"kept-forms-signin-error-{size}")

    summary.get_by_role("link").click()
    expect(page.locator("#password")).to_be_focused()
    page.locator("#password").fill(credentials[ROSE])
    submit(page, page.get_by_role("button", name="Sign in", exact=True))
    expect(page).to_have_title("My groups \N{EN DASH} Haven")


def test_an_empty_sign_in_lists_both_fields_at_once(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context(viewport=PHONE, bypass_csp=True).new_page()
    page.goto("/signin/")
    submit(page, page.get_by_role("button", name="Sign in", exact=True))

    expect(page).to_have_title("Error: Sign in \N{EN DASH} Haven")
    links = page.locator(".error-summary").get_by_role("link")
    expect(links).to_have_text(["Enter your username.", "Enter your password."])
    expect_in_view(links.last, "the second error")
    assert_no_axe(page, "kept-forms-signin-empty-phone")


def test_the_reset_page_keeps_her_username_and_code_after_a_short_password(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context(viewport=PHONE, bypass_csp=True).new_page()
    page.goto("/signin/reset/")
    page.locator("#reset-username").fill(ROSE)
    page.locator("#reset-code").fill("abcd-efgh-jkmn-pqrs")
    page.locator("#reset-password").fill("short")
    submit(page, page.get_by_role("button", name="Set my new password"))

    expect(page).to_have_title("Error: Choose a new password \N{EN DASH} Haven")
    expect_in_view(page.locator(".error-summary"), "the error summary")
    expect(page.locator("#reset-username")).to_have_value(ROSE)
    expect(page.locator("#reset-code")).to_have_value("abcd-efgh-jkmn-pqrs")
    expect(page.locator("#reset-password")).to_have_value("")
    assert_no_axe(page, "kept-forms-reset-error-phone")
