"""Issue 16, the lead's view, as a safeguarding lead and an admin see it on a 360x740 phone and a
1280x800 laptop: the Overview and the Audit log reached from the navigation (the audit log as a
page with names and times, filtered, with its CSV download), and Staff for the admin (adding a
staff member shows her first sign-in details once; switching an account off asks first).

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/lead-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, submit
from tests.browser.roomkit import DESKTOP, PHONE, Crew, assert_no_axe, expect_in_view

pytestmark = pytest.mark.browser

LEAD = "demo-lead"
ADMIN = "demo-admin"
SIZES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


def open_as(
    crew: Crew, new_context: Callable[..., BrowserContext], username: str, size: str
) -> Page:
    context = new_context(storage_state=crew.state(username), viewport=SIZES[size], bypass_csp=True)
    page = context.new_page()
    page.goto("/groups/")
    return page


@pytest.mark.parametrize("size", SIZES)
def test_the_lead_reads_the_overview_and_the_audit_log_as_pages(
    crew: Crew, new_context: Callable[..., BrowserContext], size: str
) -> None:
    page = open_as(crew, new_context, LEAD, size)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Staff")).to_have_count(0)

    nav.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    group = page.locator("li.glance").filter(has_text=GROUP_NAME)
    expect(group).to_contain_text("Facilitators: demo-facilitator")
    expect_in_view(group, "the group's card")
    assert_no_axe(page, f"lead-overview-{size}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page).to_have_title("Audit log \N{EN DASH} Haven")
    first = page.locator("ol.audit-list > li").first
    expect(first.locator("time")).to_be_visible()
    expect(page.locator("ol.audit-list")).to_contain_text("demo-facilitator")
    expect(page.locator("body")).not_to_contain_text('"actor_id"')
    page.get_by_text("Filter the log").click()
    page.get_by_label("Action").select_option("agreement.published")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("ol.audit-list > li")).to_have_count(1)
    expect(page.locator("ol.audit-list")).to_contain_text("agreement.published")
    download = page.get_by_role("link", name="Download as CSV")
    expect_in_view(download, "Download as CSV")
    with page.expect_download() as got:
        download.click()
    assert got.value.suggested_filename == "haven-audit.csv"
    assert_no_axe(page, f"lead-audit-filtered-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_the_admin_adds_a_staff_member_once_and_switching_off_asks_first(
    crew: Crew, new_context: Callable[..., BrowserContext], size: str
) -> None:
    page = open_as(crew, new_context, ADMIN, size)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff")

    page.get_by_role("link", name="Add a staff member").click()
    page.get_by_label("Username").fill(f"sam-{size}")
    page.get_by_role("radio", name="Facilitator").check()
    submit(page, page.get_by_role("button", name="Add staff member"))
    expect(page.get_by_role("heading", name="Staff member added")).to_be_visible()
    password = page.locator("dl.handover dd").nth(1)
    expect(password).to_have_text(re.compile(r"^[a-z2-9]{4}(-[a-z2-9]{4}){3}$"))
    expect_in_view(password, "her first password")
    assert_no_axe(page, f"lead-staff-added-{size}")
    secret = password.inner_text()
    page.goto("/staff/")
    expect(page.locator("body")).not_to_contain_text(secret)

    row = page.locator("li.staff-row").filter(has_text=f"sam-{size}")
    row.get_by_role("link", name=re.compile("^Switch off this account")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Switch off sam-{size}'s account?")
    expect_in_view(page.get_by_role("button", name="Switch off the account"), "the confirm button")
    page.get_by_role("link", name="No, go back").click()
    row = page.locator("li.staff-row").filter(has_text=f"sam-{size}")
    expect(row).to_contain_text("Switched on")
    row.get_by_role("link", name=re.compile("^Switch off this account")).click()
    submit(page, page.get_by_role("button", name="Switch off the account"))
    expect(page.locator(".flash")).to_contain_text(f"sam-{size}'s account is switched off")
    expect(page.locator("li.staff-row").filter(has_text=f"sam-{size}")).to_contain_text(
        "Switched off"
    )
    assert_no_axe(page, f"lead-staff-off-{size}")
