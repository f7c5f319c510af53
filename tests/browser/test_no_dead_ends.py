"""No dead ends (issue 17), as people see it on a 360x740 phone (and a 1280x800 laptop): leaving
a group asks first ("Leave <group>?", "Leave the group", "Stay", "Take a break instead"); a break
folds the group away in My groups and she comes back from there; leaving says "You left the
group"; a facilitator makes a one-time reset code from a member's record and the member sets a
new password with it; the join form keeps what she typed after an error (never the password);
she changes her password from Settings; "Download my data" warns first and offers a readable
page; erasure ends on a page that says it worked; her first steps on the group page lead to
the short content-warning form.

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/no-dead-ends-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, sign_in_password, submit
from tests.browser.roomkit import (
    AMBER,
    DESKTOP,
    FACILITATOR,
    JADE,
    MENTOR,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a calm new passphrase"


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def person(crew: Crew, new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    def make(username: str, viewport: dict[str, int] = PHONE) -> BrowserContext:
        return new_context(storage_state=crew.state(username), viewport=viewport, bypass_csp=True)

    return make


def leave_page(context: BrowserContext, crew: Crew) -> Page:
    page = context.new_page()
    page.goto(f"/groups/{crew.group_id()}/")
    page.get_by_role("link", name="Leave this group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Leave {GROUP_NAME}?")
    return page


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_leaving_asks_first_and_a_break_folds_the_group_away_until_she_comes_back(
    crew: Crew, person: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    page = leave_page(person(ROSE, viewport), crew)

    expect(page).to_have_title("Leave a group \N{EN DASH} Haven")
    expect_in_view(page.get_by_role("button", name="Leave the group"), "the leave button")
    expect_in_view(page.get_by_role("link", name="Stay", exact=True), "Stay")
    assert_no_axe(page, f"no-dead-ends-leave-{size}")

    page.get_by_role("button", name="Take a break instead").click()
    expect(page).to_have_url(re.compile(r"/groups/$"))
    resting = page.get_by_role("heading", name="Groups you are taking a break from")
    expect(resting).to_be_visible()
    expect(page.get_by_role("link", name=GROUP_NAME)).to_have_count(0)
    assert_no_axe(page, f"no-dead-ends-break-{size}")

    page.get_by_role("button", name=f"Come back to {GROUP_NAME}").click()
    expect(page.get_by_role("link", name=GROUP_NAME)).to_be_visible()
    expect(resting).to_have_count(0)


def test_leaving_says_you_left_the_group(crew: Crew, person: Callable[..., BrowserContext]) -> None:
    page = leave_page(person(JADE), crew)

    page.get_by_role("button", name="Leave the group").click()

    expect(page).to_have_url(re.compile(r"/groups/$"))
    expect_in_view(page.get_by_text("You left the group", exact=False), "the confirmation")
    expect(page.get_by_text("Removed from the group")).to_have_count(0)
    assert_no_axe(page, "no-dead-ends-left-phone")


def test_a_facilitator_gives_a_member_a_reset_code_and_she_sets_a_new_password(
    crew: Crew,
    person: Callable[..., BrowserContext],
    new_context: Callable[..., BrowserContext],
) -> None:
    amber_id = crew.member_ids()["Amber"]
    staff = person(FACILITATOR).new_page()
    staff.goto(f"/groups/{crew.group_id()}/members/{amber_id}/")
    staff.get_by_role("button", name="Make a reset code").click()
    code = staff.locator(".reset-code code").inner_text().strip()
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", code)
    assert_no_axe(staff, "no-dead-ends-reset-code-phone")

    her = new_context(viewport=PHONE, bypass_csp=True).new_page()
    her.goto("/signin/reset/")
    her.locator("#reset-username").fill("demo-amber")
    her.locator("#reset-code").fill(code)
    her.locator("#reset-password").fill(NEW_PASSWORD)
    submit(her, her.get_by_role("button", name="Set my new password"))
    expect(her).to_have_url(re.compile(r"/signin/$"))
    sign_in_password(her, "demo-amber", NEW_PASSWORD)
    expect(her).to_have_url(re.compile(r"/groups/$"))
    crew.credentials["demo-amber"] = NEW_PASSWORD
    crew.states.pop("demo-amber", None)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_join_form_keeps_what_she_typed_after_an_error(
    new_context: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    page.goto("/join/")
    expect(page.get_by_text("There is no e-mail reset.", exact=False)).to_be_visible()
    page.locator("#code").fill("ABCD-EFGH-JKLM")
    page.locator("#display_name").fill("Lily")
    page.locator("#username").fill("lily-new")
    page.locator("#password").fill("a long secret phrase")
    submit(page, page.get_by_role("button", name="Join", exact=True))

    expect(page).to_have_title("Error: Join a group \N{EN DASH} Haven")
    summary = page.locator(".error-summary")
    expect_in_view(summary, "the error summary")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#code")
    expect(page.locator("#code-error")).to_contain_text("ask the facilitator")
    expect(page.locator("#code")).to_have_value("ABCD-EFGH-JKLM")
    expect(page.locator("#display_name")).to_have_value("Lily")
    expect(page.locator("#username")).to_have_value("lily-new")
    expect(page.locator("#password")).to_have_value("")
    assert_no_axe(page, f"no-dead-ends-join-error-{size}")


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_she_changes_her_password_from_settings(
    crew: Crew,
    new_context: Callable[..., BrowserContext],
    size: str,
    viewport: dict[str, int],
) -> None:
    old = crew.credentials[MENTOR]
    new = f"{old}-{size}-changed"
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    sign_in_password(page, MENTOR, old)
    page.goto("/settings/")
    page.get_by_role("link", name="Change your password").click()
    expect(page).to_have_title("Change your password \N{EN DASH} Haven")
    page.locator("#pw-current").fill("not my password at all")
    page.locator("#pw-new").fill(new)
    submit(page, page.get_by_role("button", name="Change my password"))
    expect(page).to_have_title("Error: Change your password \N{EN DASH} Haven")
    expect_in_view(page.locator(".error-summary"), "the error summary")
    expect(page.locator("#pw-current")).to_have_value("")
    assert_no_axe(page, f"no-dead-ends-password-error-{size}")

    page.locator("#pw-current").fill(old)
    page.locator("#pw-new").fill(new)
    submit(page, page.get_by_role("button", name="Change my password"))

    expect(page).to_have_url(re.compile(r"/settings/$"))
    expect_in_view(page.get_by_text("Your password is changed.", exact=False), "the confirmation")
    assert_no_axe(page, f"no-dead-ends-password-done-{size}")
    crew.credentials[MENTOR] = new


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_download_my_data_warns_first_and_offers_a_readable_page(
    person: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    page = person(ROSE, viewport).new_page()
    page.goto("/settings/")
    page.get_by_role("link", name="Download my data").click()

    expect(page).to_have_title("Your data \N{EN DASH} Haven")
    expect_in_view(page.locator(".warning-text"), "the warning")
    expect(page.locator(".warning-text")).to_contain_text("Anyone who has the file can read it.")
    expect_in_view(page.get_by_role("link", name="Read it here"), "Read it here")
    expect_in_view(page.get_by_role("link", name="Download the file"), "the file")
    assert_no_axe(page, f"no-dead-ends-data-{size}")

    page.get_by_role("link", name="Read it here").click()
    expect(page.get_by_role("heading", name="Your groups and your names in them")).to_be_visible()
    assert_no_axe(page, f"no-dead-ends-data-read-{size}")

    page.goto("/settings/data/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the file").click()
    assert download.value.suggested_filename == "export.json"


def test_erasure_ends_on_a_page_that_says_it_worked(
    crew: Crew, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(viewport=PHONE, bypass_csp=True).new_page()
    sign_in_password(page, JADE, crew.credentials[JADE])
    page.goto("/settings/")
    page.get_by_text("Erase my account", exact=True).first.click()
    page.locator("#erase-pw").fill(crew.credentials[JADE])
    submit(page, page.get_by_role("button", name="Erase my account"))

    expect(page).to_have_url(re.compile(r"/erased/$"))
    expect(page).to_have_title("Account erased \N{EN DASH} Haven")
    expect_in_view(page.get_by_role("heading", name="Your account is erased"), "the heading")
    assert_no_axe(page, "no-dead-ends-erased-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "no-dead-ends-erased-desktop")


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_her_first_steps_lead_to_the_short_warning_form(
    crew: Crew, person: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    page = person(AMBER, viewport).new_page()
    page.goto(f"/groups/{crew.group_id()}/")

    checklist = page.locator(".first-run")
    expect_in_view(page.get_by_role("heading", name="Getting started"), "the checklist")
    expect(checklist).to_contain_text("Read and accept the group agreement")
    expect(checklist.get_by_role("link", name="Read what to expect in a session")).to_be_visible()
    assert_no_axe(page, f"no-dead-ends-checklist-{size}")

    checklist.get_by_role("link", name="Choose how content warnings work for you").click()
    expect(page.get_by_text("All warnings are folded (recommended).", exact=False)).to_be_visible()
    expect(page.locator("details.cw-change")).to_have_attribute("open", "")
    assert_no_axe(page, f"no-dead-ends-warnings-{size}")
