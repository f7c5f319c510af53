"""The unread-answer dot in the room, live (issue 17), on a 360x740 phone: while Rose is in the
room, the facilitator answers her concern on its page in another browser; her room's "Raise a
concern" and "Concerns" get the dot and "(new answer)" without a reload, and nothing about it
reaches the tab title. Jade, in the same room, gets no dot. Axe 0; screenshots in
var/screenshots/concern-dot-live-*.png."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import HavenServer, submit
from tests.browser.roomkit import JADE, assert_no_axe, room_ready
from tests.browser.test_accessibility import FACILITATOR, MEMBER, SIZES, Site

pytestmark = pytest.mark.browser

PHONE = SIZES["phone"]
REPLY = "Thank you for telling us. We will talk with you after the session."


@pytest.fixture(scope="module")
def site(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Site:
    return Site(browser=browser, haven=haven, credentials=credentials)


def in_the_room(new_context: Callable[..., BrowserContext], site: Site, who: str) -> Page:
    context = new_context(viewport=PHONE, bypass_csp=True, storage_state=site.state(who))
    page = context.new_page()
    page.goto(site.url("room"))
    room_ready(page)
    return page


def test_an_answer_puts_the_dot_in_her_room_without_a_reload_and_in_nobody_elses(
    site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    concern = site.url("concern-detail")  # Rose raised one for the group's facilitators
    rose = in_the_room(new_context, site, MEMBER)
    jade = in_the_room(new_context, site, JADE)
    raise_button = rose.locator("#concern-open")
    expect(raise_button.locator(".nav-dot")).to_have_count(0)
    title = rose.title()
    rose.evaluate("() => { window.notReloaded = true; }")

    host = new_context(viewport=PHONE, bypass_csp=True, storage_state=site.state(FACILITATOR))
    staff = host.new_page()
    staff.goto(concern)
    staff.locator("#reply").fill(REPLY)
    submit(staff, staff.get_by_role("button", name="Send"))

    expect(raise_button.locator(".nav-dot")).to_be_visible()
    expect(raise_button).to_contain_text("(new answer)")
    expect(rose.locator("#nav-concerns .nav-dot")).to_have_count(1)
    assert rose.evaluate("() => window.notReloaded === true"), "her room was reloaded"
    assert rose.title() == title
    assert REPLY not in rose.content()
    assert_no_axe(rose, "concern-dot-live-rose-phone")

    jade.wait_for_timeout(1000)  # the event would have reached Jade by now, if it were hers
    expect(jade.locator("#concern-open .nav-dot")).to_have_count(0)
    expect(jade.locator("#nav-concerns .nav-dot")).to_have_count(0)
