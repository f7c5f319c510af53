"""Issue 17, "Get help now", as she meets it at 360x740 and at 1280x800.

The link sits beside "Leave now" on every page, in view without scrolling (on the front door,
her group page and in the room), and the header never scrolls sideways on a phone. The
directory (the demo seed's HSDS datapackage) shows each service with its phone as a tel: link,
crisis lines first. Like About it says whom the services are for, so after she goes on from it
and leaves quickly, Back never finds it. axe finds nothing at either size.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    GROUP_NAME,
    OPEN_SESSION_TITLE,
    HavenServer,
    back_through_history,
    sign_in,
)
from tests.browser.roomkit import SIZES, assert_no_axe, expect_in_view, room_ready

pytestmark = pytest.mark.browser

MEMBER = "demo-rose"
PHONE = SIZES["phone"]
PURPOSE = re.compile(r"sell or exchange|sex work|Ugly Mugs", re.IGNORECASE)
BACK_PRESSES_MAX = 8


def scripts_ready(page: Page) -> None:
    page.wait_for_function("() => typeof window.havenLeave === 'function'")
    page.wait_for_load_state("load")


def expect_header_fits(page: Page, where: str) -> None:
    """Get help now and Leave now both in view, and nothing in the header wider than the page."""
    expect_in_view(page.locator("#get-help"), f"Get help now on {where}")
    expect_in_view(page.get_by_role("button", name="Leave now"), f"Leave now on {where}")
    overflow = page.evaluate(
        """() => {
            const header = document.querySelector('.site-header');
            return {
                header: header.scrollWidth - header.clientWidth,
                page: document.documentElement.scrollWidth - window.innerWidth,
            };
        }"""
    )
    assert overflow == {"header": 0, "page": 0}, f"{where} scrolls sideways: {overflow}"


def enter_room(page: Page) -> None:
    page.get_by_role("link", name=GROUP_NAME).click()
    session = page.locator("li.session").filter(
        has=page.get_by_role("heading", name=OPEN_SESSION_TITLE)
    )
    session.get_by_role("link", name="Enter the room").click()
    room_ready(page)


@pytest.mark.parametrize("size", list(SIZES))
def test_get_help_now_is_in_view_on_the_front_door_her_group_and_the_room(
    size: str, new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> None:
    page = new_context(viewport=SIZES[size], bypass_csp=True).new_page()
    page.goto("/")
    scripts_ready(page)
    expect_header_fits(page, "the front door")

    sign_in(page, MEMBER, credentials[MEMBER])
    page.get_by_role("link", name=GROUP_NAME).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    expect_header_fits(page, "her group page")

    page.go_back()
    enter_room(page)
    expect_header_fits(page, "the room")

    page.locator("#get-help").click()
    expect(page).to_have_title("Get help \N{EN DASH} Haven")
    # Back from the directory returns her to the room.
    page.go_back()
    room_ready(page)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_directory_shows_crisis_lines_first_with_a_phone_to_call(
    size: str, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(viewport=SIZES[size], bypass_csp=True).new_page()
    page.goto("/")
    page.locator("#get-help").click()

    expect(page).to_have_title("Get help \N{EN DASH} Haven")
    expect(page.get_by_role("heading", level=1)).to_have_text("Get help")
    expect_in_view(page.locator("#danger-now"), "If you are in danger now")
    expect(page.locator("#danger-now")).to_contain_text("If you are in danger now, call:")
    expect(page.locator("#danger-now a[href='tel:999']")).to_have_text("999")
    expect(page.locator(".help-group h2").first).to_have_text("Crisis lines")
    crisis = page.locator(".help-service").filter(
        has=page.get_by_role("heading", name="Riverside Women's Crisis Line (demo)")
    )
    call = crisis.get_by_role("link", name="Call 0808 157 0123")
    expect(call).to_have_attribute("href", "tel:08081570123")
    call.scroll_into_view_if_needed()
    expect_in_view(call, "the crisis line's phone")
    expect(crisis).to_contain_text("24 hours, every day")
    num = page.get_by_role("link", name="nationaluglymugs.org")
    expect(num).to_have_attribute("rel", "noopener noreferrer")
    page.evaluate("() => window.scrollTo(0, 0)")
    expect_header_fits(page, "the directory")
    assert_no_axe(page, f"help-directory-{size}")


def test_back_after_a_quick_exit_never_finds_the_directory(
    new_context: Callable[..., BrowserContext], haven: HavenServer
) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto("/")
    page.locator("#get-help").click()
    expect(page).to_have_title("Get help \N{EN DASH} Haven")
    assert PURPOSE.search(page.locator("body").inner_text())
    scripts_ready(page)

    # Going on from it, even by the header, leaves it out of the history.
    page.get_by_role("link", name="Haven", exact=True).click()
    expect(page).to_have_url(f"{haven.base_url}/")
    page.get_by_role("link", name="Sign in", exact=True).first.click()
    expect(page).to_have_url(f"{haven.base_url}/signin/")
    scripts_ready(page)
    page.get_by_role("button", name="Leave now").click()
    expect(page).to_have_url(haven.neutral_url)

    seen: list[str] = []
    for url, text in back_through_history(page, haven.base_url, BACK_PRESSES_MAX):
        seen.append(url)
        assert not PURPOSE.search(text), f"Back showed whom the services are for at {url}"
    assert f"{haven.base_url}/" in seen, seen
    assert not any("/help/" in url for url in seen), seen
