"""Issue 17, a neutral front door and a short trail, as she meets them on a phone.

Only About says what Haven is for. Its links replace it in the history, so after a quick exit,
pressing Back again and again never shows a page that says it. The quick-exit tip under
"Leave now" shows on a first visit, as text, until she hides it. The information pages and the
"Who sees what" box pass axe at 360x740 and 1280x800.
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
from tests.browser.roomkit import assert_no_axe, expect_in_view, room_ready

pytestmark = pytest.mark.browser

MEMBER = "demo-rose"
PHONE = {"width": 360, "height": 740}
SIZES = {"phone": PHONE, "desktop": {"width": 1280, "height": 800}}
# The About wording: what Haven is for and who it is for.
PURPOSE = re.compile(r"sell or exchange|sex work|Ugly Mugs", re.IGNORECASE)
BACK_PRESSES_MAX = 12


def exit_ready(page: Page) -> None:
    """exit.js and trail.js are deferred: wait until both have set up."""
    page.wait_for_function("() => typeof window.havenLeave === 'function'")
    page.wait_for_load_state("load")


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


def test_back_after_a_quick_exit_never_shows_what_haven_is_for(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto("/")
    assert not PURPOSE.search(visible_text(page))

    # About says it plainly, one click away; going on from it leaves it out of the history.
    page.get_by_role("link", name="About Haven").click()
    expect(page).to_have_title("About \N{EN DASH} Haven")
    assert PURPOSE.search(visible_text(page))
    exit_ready(page)
    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{haven.base_url}/signin/")

    sign_in(page, MEMBER, credentials[MEMBER])
    page.get_by_role("link", name=GROUP_NAME).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    page.get_by_role("link", name="What to expect in a session", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What to expect")
    page.get_by_role("link", name="Concerns", exact=True).click()
    expect(page).to_have_url(f"{haven.base_url}/concerns/")
    exit_ready(page)

    page.get_by_role("button", name="Leave now").click()
    expect(page).to_have_url(haven.neutral_url)

    seen: list[str] = []
    for url, text in back_through_history(page, haven.base_url, BACK_PRESSES_MAX):
        seen.append(url)
        assert not PURPOSE.search(text), f"Back showed what Haven is for at {url}"
        assert GROUP_NAME not in text, f"Back showed the group at {url}"
    assert seen, "Back went nowhere"
    assert f"{haven.base_url}/" in seen, f"Back never reached the front door: {seen}"
    assert not any("/about/" in url for url in seen), seen


def test_the_exit_tip_shows_on_a_first_visit_until_she_hides_it(
    new_context: Callable[..., BrowserContext], haven: HavenServer
) -> None:
    context = new_context(viewport=PHONE)
    page = context.new_page()
    page.goto("/")
    tip = page.locator("#exit-tip")
    expect(tip).to_contain_text("press Shift 3 times")
    expect_in_view(tip, "the quick-exit tip")
    expect_in_view(page.get_by_role("link", name="Sign in"), "Sign in")
    expect_in_view(page.get_by_role("link", name="Join with an invite code"), "Join")

    page.get_by_role("button", name="Hide this tip").click()
    expect(tip).to_be_hidden()
    expect(page.get_by_role("button", name="Leave now")).to_be_focused()
    # Remembered by one neutral flag, nothing else.
    stored = page.evaluate("() => JSON.stringify(Object.entries(window.localStorage))")
    assert stored == '[["tip-hidden","1"]]'

    page.goto("/signin/")
    exit_ready(page)
    expect(page.locator("#exit-tip")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    # The quick exit clears the flag with everything else: the next visit shows the tip.
    page.get_by_role("button", name="Leave now").click()
    expect(page).to_have_url(haven.neutral_url)
    page.goto(f"{haven.base_url}/")
    exit_ready(page)
    expect(page.locator("#exit-tip")).to_be_visible()


def test_the_exit_tip_leads_to_staying_safe_online(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto("/signin/")
    page.locator("#exit-tip").get_by_role("link", name="Staying safe online").click()
    expect(page).to_have_title("Staying safe online \N{EN DASH} Haven")
    expect(page.get_by_role("heading", name="What the quick exit cannot clear")).to_be_visible()


PAGES = [
    ("front-door", None, "/"),
    ("about", None, "/about/"),
    ("staying-safe", None, "/staying-safe/"),
    ("what-to-expect", None, "/what-to-expect/"),
    ("what-to-expect-member", MEMBER, "/what-to-expect/"),
    ("join", None, "/join/"),
    ("group-agreement-member", MEMBER, "group"),
]


@pytest.mark.parametrize(("name", "user", "path"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("size", list(SIZES))
def test_the_front_door_pages_have_no_axe_violations(
    name: str,
    user: str | None,
    path: str,
    size: str,
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
) -> None:
    context = new_context(viewport=SIZES[size], bypass_csp=True)
    page = context.new_page()
    if user:
        sign_in(page, user, credentials[user])
    if path == "group":
        page.get_by_role("link", name=GROUP_NAME).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
        page.locator("#who-sees-what").scroll_into_view_if_needed()
    else:
        page.goto(path)
    exit_ready(page)
    expect(page.locator("#exit-tip")).to_be_visible()
    assert_no_axe(page, f"front-door-{name}-{size}")


@pytest.mark.parametrize("size", list(SIZES))
def test_who_sees_what_opens_inside_the_concern_dialog_in_the_room(
    size: str,
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
) -> None:
    page = new_context(viewport=SIZES[size], bypass_csp=True).new_page()
    sign_in(page, MEMBER, credentials[MEMBER])
    page.get_by_role("link", name=GROUP_NAME).click()
    session = page.locator("li.session").filter(
        has=page.get_by_role("heading", name=OPEN_SESSION_TITLE)
    )
    page.goto(session.get_by_role("link", name="Enter the room").get_attribute("href") or "")
    room_ready(page)
    page.locator("#concern-open").click()
    dialog = page.locator("#concern-dialog")
    expect(dialog).to_be_visible()
    box = dialog.locator("#who-sees-what")
    expect(box.get_by_text("We will tell you first wherever we can.")).to_be_hidden()
    box.get_by_text("Who sees what").click()
    promise = box.locator("p", has_text="We will tell you first wherever we can.")
    promise.scroll_into_view_if_needed()
    expect_in_view(promise, "the promise to tell her first")
    assert_no_axe(page, f"front-door-concern-dialog-{size}")
