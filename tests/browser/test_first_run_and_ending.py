"""Her first steps and the end of a session (issue 17), on a 360x740 phone (and a 1280x800
laptop): the group page's first-run checklist ticks "What to expect" once she has opened it;
a host ends a session on a GOV.UK confirmation page reached from the room's "End session",
lands on the session summary, and the members in the room see it end without reloading.

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/first-run-*.png and end-page-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import HavenServer
from tests.browser.roomkit import (
    AMBER,
    DESKTOP,
    PHONE,
    Crew,
    assert_no_axe,
    expect_in_view,
)

pytestmark = pytest.mark.browser


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


def test_the_checklist_ticks_what_to_expect_once_she_has_opened_it(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = person(AMBER).new_page()
    page.goto(f"/groups/{crew.group_id()}/")
    checklist = page.locator(".first-run")
    step = checklist.locator("li").filter(has_text="Read what to expect in a session")
    expect_in_view(page.get_by_role("heading", name="Getting started"), "the checklist")
    expect(step.locator(".tag")).to_have_text("To do")

    step.get_by_role("link", name="Read what to expect in a session").click()
    expect(page).to_have_title(re.compile("What to expect"))
    page.go_back()
    page.reload()

    expect(step.locator(".tag")).to_have_text("Done")
    expect(checklist.locator("li").filter(has_text="Read and accept").locator(".tag")).to_have_text(
        "To do"
    )
    expect_in_view(step, "the ticked step")
    assert_no_axe(page, "first-run-expect-done-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "first-run-expect-done-desktop")
