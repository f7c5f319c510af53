"""A facilitator's concern page when the concern points to a message of the room (issue 13):
the message shows under its own heading, and the page has no axe violations at all, at a phone
and at a desktop size; the woman who raised it gets no such section."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import HavenServer, axe_path, screenshot
from tests.browser.test_accessibility import (
    FACILITATOR,
    MEMBER,
    PLAIN_TEXT,
    SIZES,
    Site,
    brief,
    member_concern_dialog,
    summarise,
)

pytestmark = pytest.mark.browser

SECTION = "Messages from the session she pointed to"


@pytest.fixture(scope="module")
def site(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Site:
    return Site(browser=browser, haven=haven, credentials=credentials)


@pytest.fixture(scope="module")
def concern_path(site: Site) -> str:
    """Rose raises a concern from the room about the facilitator's plain message."""
    site.seed_room()
    context = site.context(storage_state=site.state(MEMBER))
    try:
        page = context.new_page()
        page.goto(site.url("room"))
        member_concern_dialog(page)
        page.locator("#concern-category").select_option("upsetting_content")
        page.locator("#concern-body").fill("That welcome did not feel welcoming to me.")
        page.locator("#concern-send").click()
        expect(page.locator("#concern-dialog")).to_be_hidden()
        page.goto("/concerns/")
        hrefs = page.locator("#mine-h ~ ul a").evaluate_all("links => links.map(a => a.pathname)")
    finally:
        context.close()
    return max(hrefs, key=lambda path: int(re.findall(r"\d+", path)[0]))


@pytest.mark.parametrize("size", SIZES)
def test_the_facilitator_reads_the_message_on_the_concern_page_with_no_axe_violations(
    size: str, site: Site, concern_path: str, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(
        viewport=SIZES[size], bypass_csp=True, storage_state=site.state(FACILITATOR)
    )
    page = context.new_page()
    response = page.goto(concern_path)
    assert response is not None and response.status == 200
    section = page.get_by_role("region", name=SECTION)
    expect(section).to_contain_text(PLAIN_TEXT)
    page.add_script_tag(path=str(axe_path()))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    screenshot(page, f"concern-messages-{size}")
    violations = [brief(v) for v in results["violations"]]
    assert violations == [], summarise(violations)


def test_the_woman_who_raised_it_gets_no_such_section(
    site: Site, concern_path: str, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(storage_state=site.state(MEMBER)).new_page()
    response = page.goto(concern_path)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Concern", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name=SECTION)).to_have_count(0)
