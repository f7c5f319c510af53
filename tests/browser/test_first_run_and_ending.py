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

from tests.browser.conftest import HavenServer, submit
from tests.browser.roomkit import (
    AMBER,
    DESKTOP,
    FACILITATOR,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
    open_room,
    room_ready,
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


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_ending_asks_on_a_page_then_she_lands_on_the_summary_and_the_room_ends_for_everyone(
    crew: Crew, person: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    session_id, path = crew.session("live")
    rose = open_room(person(ROSE, viewport), path)
    sam = open_room(person(FACILITATOR, viewport), path)

    if size == "phone":
        sam.locator("#tools-open").click()
    sam.get_by_role("link", name="End session").click()
    expect(sam).to_have_url(re.compile(rf"/sessions/{session_id}/end/$"))
    expect(sam).to_have_title("End a session \N{EN DASH} Haven")
    expect_in_view(sam.get_by_role("heading", level=1, name="End the session for everyone?"))
    expect_in_view(sam.get_by_role("button", name="End the session"), "End the session")
    expect_in_view(sam.get_by_role("link", name="Keep it going"), "Keep it going")
    assert_no_axe(sam, f"end-page-ask-{size}")

    # "Keep it going" is the way back: the room goes on, nothing ended.
    sam.get_by_role("link", name="Keep it going").click()
    room_ready(sam)
    expect(rose.locator("#end")).to_be_hidden()

    if size == "phone":
        sam.locator("#tools-open").click()
    sam.get_by_role("link", name="End session").click()
    submit(sam, sam.get_by_role("button", name="End the session"))

    expect(sam).to_have_url(re.compile(rf"/sessions/{session_id}/summary/$"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Session summary")
    end = rose.locator("#end")
    expect(end).to_be_visible()
    expect_in_view(end.get_by_role("heading", name="The session has ended"))
    assert_no_axe(rose, f"end-page-member-end-screen-{size}")
