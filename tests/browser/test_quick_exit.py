"""The quick exit (PRODUCT.md "Safety"): Shift three times, or the "Leave now" button.

The page is blanked, the browser lands on the neutral site with nothing of Haven one step
back, and the session is signed out on the server, not only in this browser.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import (
    GROUP_NAME,
    OPEN_SESSION_TITLE,
    HavenServer,
    sign_in,
)
from tests.browser.roomkit import room_ready

pytestmark = pytest.mark.browser

MEMBER = "demo-rose"
SIGNED_OUT_WAIT = 5.0


class LeftWhileTyping(AssertionError):
    """The quick exit fired while someone was only typing capital letters."""


class LeaveNowBlocked(AssertionError):
    """The "Leave now" button cannot be pressed."""


def open_group_page(page: Page) -> None:
    page.get_by_role("link", name=GROUP_NAME).click()
    expect(page).to_have_url(re.compile(r"/groups/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    exit_script_ready(page)


def exit_script_ready(page: Page) -> None:
    """exit.js is deferred: wait until it has set up its listeners."""
    page.wait_for_function("() => typeof window.havenLeave === 'function'", timeout=10_000)


def assert_signed_out_on_server(
    new_context: Callable[..., BrowserContext], session_cookies: list[dict]
) -> None:
    """The old session cookie, replayed in a fresh browser, no longer opens Haven."""
    deadline = time.monotonic() + SIGNED_OUT_WAIT
    while True:
        replay = new_context()
        replay.add_cookies(session_cookies)
        page = replay.new_page()
        page.goto("/groups/")
        signed_out = page.url.endswith("/signin/")
        replay.close()
        if signed_out or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert signed_out, "the session still works after the quick exit (the beacon did not sign out)"


def check_left(
    page: Page,
    new_context: Callable[..., BrowserContext],
    haven: HavenServer,
    session_cookies: list[dict],
) -> None:
    expect(page).to_have_url(haven.neutral_url)
    expect(page).to_have_title("Weather")

    # Back does not return to Haven: the exit replaced the group page in the history, and the
    # page before it (My groups) is fetched again (no-store) and now asks to sign in.
    page.go_back(wait_until="load")
    url = page.url
    assert url in {haven.neutral_url, "about:blank"} or url == f"{haven.base_url}/signin/", (
        f"Back went to {url}"
    )
    assert GROUP_NAME not in page.content(), "Back shows Haven content"

    # This browser is signed out (a new visit asks to sign in) ...
    page.goto(f"{haven.base_url}/groups/")
    expect(page).to_have_url(f"{haven.base_url}/signin/")
    # ... and so is the session on the server.
    assert_signed_out_on_server(new_context, session_cookies)


def signed_in_on_group_page(
    new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> tuple[BrowserContext, Page, list[dict]]:
    context = new_context()
    page = context.new_page()
    sign_in(page, MEMBER, credentials[MEMBER])
    open_group_page(page)
    cookies = [c for c in context.cookies() if c["name"].endswith("sessionid")]
    assert cookies, "no session cookie after signing in"
    return context, page, cookies


def test_shift_three_times_leaves_and_signs_out(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    _context, page, cookies = signed_in_on_group_page(new_context, credentials)
    for _ in range(3):
        page.keyboard.press("Shift")
    check_left(page, new_context, haven, cookies)


def test_leave_now_button_leaves_and_signs_out(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    _context, page, cookies = signed_in_on_group_page(new_context, credentials)
    page.get_by_role("button", name="Leave now").click()
    check_left(page, new_context, haven, cookies)


def test_back_pressed_before_the_sign_out_arrives_still_finds_haven_signed_out(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    """The background sign-out never reaches the server here (a busy server, a dropped
    request): the mark the quick exit leaves signs the browser out on its next visit. The
    neutral site is another site, as in life (localhost, where Haven is 127.0.0.1), so the
    mark must go with Back from there as the session cookie does."""
    context, page, cookies = signed_in_on_group_page(new_context, credentials)
    elsewhere = haven.neutral_url.replace("127.0.0.1", "localhost")

    def exit_elsewhere(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace(haven.neutral_url, elsewhere))

    lost: list[str] = []

    def lose(route: Route) -> None:
        lost.append(route.request.method)
        route.abort()

    context.route(re.compile(r"/groups/\d+/$"), exit_elsewhere)
    context.route("**/signout/", lose)
    page.reload()
    exit_script_ready(page)
    page.get_by_role("button", name="Leave now").click()
    expect(page).to_have_url(elsewhere)
    expect(page).to_have_title("Weather")
    page.wait_for_timeout(200)
    assert lost == ["POST"], f"the sign-out beacon was not the request lost: {lost}"

    page.go_back(wait_until="load")
    assert page.url == f"{haven.base_url}/signin/", f"Back went to {page.url}"
    assert GROUP_NAME not in page.content(), "Back shows Haven content"
    assert_signed_out_on_server(new_context, cookies)
    assert not [c for c in context.cookies() if c["name"].endswith("left")], "the mark stayed"


def test_two_shift_presses_do_not_leave(
    new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> None:
    _context, page, _cookies = signed_in_on_group_page(new_context, credentials)
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.wait_for_timeout(300)
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)


def csrf_token(context: BrowserContext) -> str:
    return next(c["value"] for c in context.cookies() if c["name"].endswith("csrftoken"))


def test_signout_clears_site_data(
    new_context: Callable[..., BrowserContext], credentials: dict[str, str], haven: HavenServer
) -> None:
    """The answer to /signout/ (the beacon's and the button's) tells the browser to forget.

    This test is about the HTTP answer, so it signs in with the context's HTTP client (which
    shares the browser's cookies) rather than through the sign-in form.
    """
    for beacon in (True, False):
        context = new_context()
        page = context.new_page()
        page.goto("/signin/")
        signed_in = context.request.post(
            f"{haven.base_url}/signin/",
            form={
                "csrfmiddlewaretoken": csrf_token(context),
                "username": MEMBER,
                "password": credentials[MEMBER],
            },
            max_redirects=0,
        )
        assert signed_in.status == 302, signed_in.status
        page.goto("/groups/")
        expect(page.get_by_role("link", name=GROUP_NAME)).to_be_visible()
        token = csrf_token(context)
        form = {"csrfmiddlewaretoken": token}
        if beacon:
            form["beacon"] = "1"
        response = context.request.post(
            f"{haven.base_url}/signout/",
            form=form,
            headers={"Origin": haven.base_url},
            max_redirects=0,
        )
        assert response.status == (204 if beacon else 302), response.status
        clear = response.headers.get("clear-site-data", "")
        for part in ('"cache"', '"cookies"', '"storage"'):
            assert part in clear, f"Clear-Site-Data is {clear!r}"
        page.goto("/groups/")
        expect(page).to_have_url(f"{haven.base_url}/signin/")


def open_room_with_concern_dialog(
    new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> tuple[BrowserContext, Page, list[dict]]:
    context, page, cookies = signed_in_on_group_page(new_context, credentials)
    session = page.locator("li.session").filter(
        has=page.get_by_role("heading", name=OPEN_SESSION_TITLE)
    )
    session.get_by_role("link", name="Enter the room").click()
    room_ready(page)
    exit_script_ready(page)
    page.locator("#concern-open").click()
    expect(page.locator("#concern-dialog")).to_be_visible()
    expect(page.locator("#concern-body")).to_be_focused()
    return context, page, cookies


def test_shift_three_times_leaves_from_an_open_dialog(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    _context, page, cookies = open_room_with_concern_dialog(new_context, credentials)
    for _ in range(3):
        page.keyboard.press("Shift")
    check_left(page, new_context, haven, cookies)


def test_leave_now_button_works_from_an_open_dialog(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
) -> None:
    _context, page, cookies = open_room_with_concern_dialog(new_context, credentials)
    leave_now = page.locator("dialog[open] .leave-now")
    try:
        leave_now.click(trial=True, timeout=2_000)
    except PlaywrightTimeoutError as exc:
        raise LeaveNowBlocked(
            "'Leave now' cannot be pressed while the concern dialog is open"
        ) from exc
    leave_now.click()
    check_left(page, new_context, haven, cookies)


def test_typing_capital_letters_does_not_leave(
    new_context: Callable[..., BrowserContext], haven: HavenServer
) -> None:
    """Someone typing a name with capitals is not thrown out (no sign-in needed: /join/)."""
    page = new_context().new_page()
    page.goto("/join/")
    exit_script_ready(page)
    field = page.locator("#display_name")
    field.click()
    name = "Mary Ann Lee"
    for char in name:
        if char.isupper():
            page.keyboard.press(f"Shift+{char}")
        else:
            page.keyboard.type(char)
    page.wait_for_timeout(300)
    if page.url != f"{haven.base_url}/join/":
        raise LeftWhileTyping(f"typing {name!r} left Haven for {page.url}")
    expect(field).to_have_value(name)
