"""Concerns that cannot wait (issue 16), as the safeguarding lead sees them on a 360x740 phone and
a 1280x800 laptop: Rose raises an urgent concern that nobody acknowledges in time; the lead's
next page shows the banner "1 urgent concern is past its answer-by time" and "Concerns 1" in view
without scrolling (the page load escalated it to her; no cron runs here); her inbox lists it
first under "New to you" with its group, age and owner; she takes it and adds a staff note in
the box that says "Only staff see this", which Rose never sees.

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/concerns-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, manage, submit
from tests.browser.roomkit import (
    DESKTOP,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
)

pytestmark = pytest.mark.browser

LEAD = "demo-lead"
WORRY = "A man from the last group followed me home tonight."
STAFF_NOTE = "Called the outreach team, they will check on her at nine."


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def person(crew: Crew, new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """A browser of one of the seeded people, signed in once per module. The served pages keep
    their CSP; bypassing it only lets the test's own axe script in."""

    def make(username: str, viewport: dict[str, int]) -> BrowserContext:
        return new_context(storage_state=crew.state(username), viewport=viewport, bypass_csp=True)

    return make


@pytest.fixture(scope="module")
def urgent_concern(crew: Crew, haven: HavenServer) -> int:
    """Rose raises a normal concern and then an urgent one over REST; nobody acknowledges the
    urgent one by its answer-by time (moved an hour back, as an hour passing would)."""
    group_id = crew.group_id()
    crew.call(
        ROSE,
        "POST",
        "/api/v1/concerns/",
        {
            "group_id": group_id,
            "category": "other",
            "body": "The room was noisy.",
            "urgency": "low",
        },
    )
    made = crew.call(
        ROSE,
        "POST",
        "/api/v1/concerns/",
        {
            "group_id": group_id,
            "category": "safety_outside_group",
            "body": WORRY,
            "urgency": "urgent",
        },
    )
    concern_id = made["id"]
    manage(
        "shell",
        "-c",
        "from datetime import timedelta; from django.utils import timezone; "
        "from safeguarding.models import Concern; "
        f"Concern.objects.filter(pk={concern_id}).update("
        "acknowledge_by=timezone.now() - timedelta(hours=1), "
        "created_at=timezone.now() - timedelta(hours=2))",
        env=haven.env,
    )
    return concern_id


def first_page(page: Page) -> None:
    page.goto("/groups/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_the_lead_sees_the_banner_and_the_count_then_takes_it_and_notes_it_on_a_phone(
    person: Callable[..., BrowserContext], urgent_concern: int
) -> None:
    page = person(LEAD, PHONE).new_page()
    first_page(page)
    banner = page.get_by_role("region", name="Important")
    expect(banner).to_contain_text("1 urgent concern is past its answer-by time.")
    expect_in_view(banner, "the banner")
    nav = page.locator("#nav-concerns")
    expect(nav).to_have_text(re.compile(r"^Concerns 1"))
    expect(nav).to_have_accessible_name(re.compile(r"Concerns .*1 open concern for you to handle"))
    expect_in_view(nav, "Concerns 1 in the navigation")
    expect(page).to_have_title("(1) My groups \N{EN DASH} Haven")
    assert_no_axe(page, "concerns-phone-banner")

    banner.get_by_role("link", name="Open the concerns").click()
    expect(page).to_have_title("(1) Concerns \N{EN DASH} Haven")
    new = page.get_by_role("region", name="New to you")
    row = new.locator("li.concern-row").first
    expect(row).to_have_attribute("data-concern", str(urgent_concern))
    expect(row).to_contain_text("My safety outside the group")
    expect(row).to_contain_text("Urgent")
    expect(row).to_contain_text(GROUP_NAME)
    expect(row).to_contain_text(re.compile(r"2\shours ago"))
    expect(row.locator(".concern-owner")).to_have_text("Nobody yet")
    expect_in_view(row.locator(".concern-row-title"), "the first row")
    assert_no_axe(page, "concerns-phone-inbox")

    submit(page, row.get_by_role("button", name="Take it"))
    expect(page.locator(".flash")).to_contain_text("It is yours now")
    row = page.locator(f'li.concern-row[data-concern="{urgent_concern}"]')
    expect(row.locator(".concern-owner")).to_have_text("You")
    expect(row.get_by_role("button", name="Take it")).to_have_count(0)

    row.get_by_role("link", name="My safety outside the group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Concern")
    expect(page.locator("#owner-line")).to_contain_text("You")
    expect_in_view(page.locator("#owner-line"), "who owns it")
    assert_no_axe(page, "concerns-phone-concern")
    box = page.locator("#staff-notes")
    expect(box).to_contain_text("Only staff see this")
    box.get_by_label("Add a staff note (she will not see it)").fill(STAFF_NOTE)
    submit(page, box.get_by_role("button", name="Save staff note"))
    expect(page.locator(".flash")).to_contain_text("Only staff see it")
    expect(page.locator("#staff-notes")).to_contain_text(STAFF_NOTE)
    expect(page.get_by_label("Reply to Rose (she will see it)")).to_be_visible()
    assert "Rose" not in page.title()
    page.locator("#staff-notes").scroll_into_view_if_needed()
    assert_no_axe(page, "concerns-phone-staff-note")


def test_rose_never_sees_the_staff_note_and_her_timeline_is_calm(
    person: Callable[..., BrowserContext], urgent_concern: int
) -> None:
    page = person(ROSE, PHONE).new_page()
    page.goto(f"/concerns/{urgent_concern}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Concern")
    expect(page.get_by_text("Someone more senior is now looking at this with us.")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(STAFF_NOTE)
    expect(page.locator("body")).not_to_contain_text("Only staff see this")
    expect(page.locator("#nav-concerns .nav-count")).to_have_count(0)
    expect(page.locator("#concern-banner")).to_have_count(0)
    expect(page).to_have_title("Concern \N{EN DASH} Haven")
    assert_no_axe(page, "concerns-phone-rose")


def test_the_same_pages_hold_on_a_laptop(
    person: Callable[..., BrowserContext], urgent_concern: int
) -> None:
    page = person(LEAD, DESKTOP).new_page()
    first_page(page)
    expect_in_view(page.locator("#nav-concerns"), "Concerns 1 in the navigation")
    expect_in_view(page.get_by_role("region", name="Important"), "the banner")
    assert_no_axe(page, "concerns-desktop-banner")
    page.goto("/concerns/")
    row = page.locator("li.concern-row").first
    expect(row).to_have_attribute("data-concern", str(urgent_concern))
    expect(row.locator(".concern-owner")).to_have_text("You")
    assert_no_axe(page, "concerns-desktop-inbox")
    page.goto(f"/concerns/{urgent_concern}/")
    expect(page.locator("#staff-notes")).to_contain_text(STAFF_NOTE)
    page.locator("#staff-notes").scroll_into_view_if_needed()
    assert_no_axe(page, "concerns-desktop-staff-note")
