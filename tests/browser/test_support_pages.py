"""Issue 15 outside the live room, as people see it on a 360x740 phone (and a 1280x800 laptop):
"Ask for support" on the group page (the confirmation next to the button, the urgent help at
once for "I'm not safe right now", a GOV.UK error summary that keeps her words), the
facilitators' open requests with "I'll take this", the private thread both ways, the settings
page's "Tell the hosts if I leave quickly" and her check-in history, and the quick exit from a
room telling the hosts "Rose left quickly".

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/support-*.png.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import (
    GROUP_NAME,
    HavenServer,
    expect_hidden,
    screenshot,
    sign_in,
    submit,
)
from tests.browser.roomkit import (
    DESKTOP,
    FACILITATOR,
    JADE,
    PHONE,
    ROSE,
    SAM,
    Crew,
    Speaker,
    assert_no_axe,
    expect_in_view,
    room_ready,
)

pytestmark = pytest.mark.browser

NOTE = "My phone keeps ringing and I feel shaky."
REPLY = "I am here, Rose. Do you want to talk tonight?"
ANSWER = "Yes please, after nine."
CHECKIN_NOTE = "Tired but glad to be here"


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def person(crew: Crew, new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """A browser of one of the seeded people, signed in once per module, on a phone. The
    served pages keep their CSP; bypassing it only lets the test's own axe script in."""

    def make(username: str, viewport: dict[str, int] = PHONE) -> BrowserContext:
        return new_context(storage_state=crew.state(username), viewport=viewport, bypass_csp=True)

    return make


def group_page(context: BrowserContext, crew: Crew, query: str = "") -> Page:
    page = context.new_page()
    page.goto(f"/groups/{crew.group_id()}/{query}")
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    return page


def support_form(page: Page) -> Any:
    return page.locator("form.support-form")


def test_she_asks_for_support_and_sees_it_was_sent_next_to_the_button(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = group_page(person(ROSE), crew)
    section = page.locator("#support")
    expect(section.get_by_role("heading", name="Ask for support")).to_be_visible()
    form = support_form(page)
    form.get_by_label("Please message me privately").check()
    form.get_by_label("Anything you want to add").fill(NOTE)
    button = form.get_by_role("button", name="Send to the facilitators")
    button.scroll_into_view_if_needed()
    expect_in_view(button, "Send to the facilitators")
    assert_no_axe(page, "support-member-form-phone")

    submit(page, button)
    expect(page).to_have_url(re.compile(r"/groups/\d+/#support-sent$"))
    sent = page.locator("#support-sent")
    expect(sent).to_contain_text(re.compile(r"Sent at \d\d:\d\d to the group's facilitators\."))
    expect(sent).to_contain_text("They will see it when they are next here.")
    expect(sent).to_contain_text("They will write to you under “Private messages” on this page.")
    # Where she pressed the button: on screen without scrolling, with the section's heading.
    expect_in_view(sent, "the confirmation")
    expect_in_view(page.locator("#support-h"), "the section's heading above it")
    expect(sent).to_be_focused()
    mine = page.locator(".my-support li").first
    expect(mine).to_contain_text("Please message me privately")
    expect(mine).to_contain_text("Not seen yet.")
    assert_no_axe(page, "support-member-sent-phone")

    page.set_viewport_size(DESKTOP)
    # A laptop keeps the phone's scroll position: bring it back as a fresh load places it.
    sent.evaluate("node => node.scrollIntoView()")
    expect_in_view(sent, "the confirmation on a laptop")
    expect_in_view(page.locator("#support-h"), "the section's heading on a laptop")
    assert_no_axe(page, "support-member-sent-desktop")


def test_im_not_safe_shows_the_urgent_help_at_once_and_again_with_the_confirmation(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = group_page(person(ROSE), crew)
    form = support_form(page)
    urgent = form.locator("#urgent-help")
    expect_hidden(urgent)
    form.get_by_label("I'm not safe right now").check()
    expect(urgent).to_be_visible()
    expect(urgent).to_contain_text("If you are in danger now, get help straight away:")
    expect(urgent.get_by_role("link", name="999")).to_have_attribute("href", "tel:999")
    expect(urgent).to_contain_text("Emergency services")
    expect_in_view(urgent, "the urgent help under the choice")
    assert_no_axe(page, "support-member-not-safe-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "support-member-not-safe-desktop")
    page.set_viewport_size(PHONE)

    submit(page, form.get_by_role("button", name="Send to the facilitators"))
    sent = page.locator("#support-sent")
    expect_in_view(sent, "the confirmation")
    expect(sent.get_by_role("link", name="999")).to_be_visible()


def test_a_form_sent_without_a_choice_shows_the_error_summary_and_keeps_her_note(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = group_page(person(ROSE), crew)
    form = support_form(page)
    form.get_by_label("Anything you want to add").fill(NOTE)
    response = submit(page, form.get_by_role("button", name="Send to the facilitators"))
    assert response.status == 400
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect_in_view(summary, "the error summary")
    expect(summary).to_contain_text("There is a problem")
    expect(page).to_have_title("Error: Group \N{EN DASH} Haven")
    expect(page.locator("#kind-error")).to_contain_text("Choose what you need.")
    expect(page.locator("#support-note")).to_have_value(NOTE)
    assert_no_axe(page, "support-member-error-phone")
    summary.get_by_role("link", name="Choose what you need.").click()
    expect(page.locator("#kind-minute")).to_be_focused()
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "support-member-error-desktop")


def test_the_facilitator_sees_open_requests_takes_one_and_she_sees_who_is_with_her(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = group_page(person(FACILITATOR), crew)
    section = page.locator("#support-requests")
    expect(section.get_by_role("heading", level=2)).to_contain_text("Support requests")
    items = section.locator("li.support-item")
    expect(items.first).to_be_visible()
    asked = items.filter(has_text=NOTE).filter(has_text="Please message me privately")
    expect(asked).to_have_count(1)
    expect(asked).to_contain_text("Rose")
    expect(asked).to_contain_text("From this page")
    expect(asked.locator("time")).to_have_text(re.compile(r"\d+ \w+, \d\d:\d\d"))
    # The requests come first on her page: the newest need is on screen when it opens.
    expect_in_view(section.get_by_role("heading", level=2), "the support requests heading")
    assert_no_axe(page, "support-facilitator-requests-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "support-facilitator-requests-desktop")
    page.set_viewport_size(PHONE)

    submit(page, asked.get_by_role("button", name=re.compile(r"^I'll take this")))
    done = page.locator("#support-requests .done")
    expect(done).to_have_text("You have taken Rose's request. She can see you are with her.")
    expect_in_view(done, "what taking it did")
    taken = (
        page.locator("li.support-item")
        .filter(has_text=NOTE)
        .filter(has_text="Please message me privately")
    )
    expect(taken).to_contain_text(f"Taken by {SAM}")
    expect(taken.get_by_role("button", name=re.compile(r"^I'll take this"))).to_have_count(0)
    assert_no_axe(page, "support-facilitator-taken-phone")

    rose = group_page(person(ROSE), crew)
    expect(rose.locator(".my-support")).to_contain_text(f"{SAM} is with you.")


def test_a_private_reply_reaches_her_group_page_and_she_answers(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    sam = group_page(person(FACILITATOR), crew)
    threads = sam.locator("#private")
    # Her "Please message me privately" opened her thread.
    threads.get_by_role("link", name="Rose", exact=True).click()
    expect(sam).to_have_url(re.compile(r"\?thread=\d+#private$"))
    expect(sam.get_by_role("heading", name="With Rose")).to_be_visible()
    sam.get_by_label("Write to Rose").fill(REPLY)
    send = sam.get_by_role("button", name="Send privately")
    submit(sam, send)
    expect(sam.locator("ol.thread li").last).to_contain_text(REPLY)
    expect_in_view(sam.locator("#private .done"), "Sent at … under the button")
    assert_no_axe(sam, "support-facilitator-thread-phone")
    sam.set_viewport_size(DESKTOP)
    assert_no_axe(sam, "support-facilitator-thread-desktop")

    rose = group_page(person(ROSE), crew)
    thread = rose.locator("#private ol.thread")
    mine = thread.locator("li").filter(has_text=REPLY)
    expect(mine).to_contain_text(SAM)
    expect(rose.locator("#private")).to_contain_text(
        "Only you and the people who run this group can read these."
    )
    rose.get_by_label("Write to the hosts").fill(ANSWER)
    submit(rose, rose.get_by_role("button", name="Send privately"))
    last = rose.locator("#private ol.thread li").last
    expect(last).to_contain_text(ANSWER)
    expect(last).to_contain_text("You")
    status = rose.locator("#private .done")
    expect(status).to_have_text(re.compile(r"^Sent at \d\d:\d\d\.$"))
    # The button, the line saying it went and her newest message, all on screen at once.
    expect_in_view(rose.get_by_role("button", name="Send privately"), "Send privately")
    expect_in_view(status, "Sent at …")
    expect_in_view(last, "her message")
    assert_no_axe(rose, "support-member-thread-phone")

    # Another member never sees it.
    jade = group_page(person(JADE), crew)
    expect(jade.locator("#private")).not_to_contain_text(REPLY)
    expect(jade.locator("#private")).to_contain_text("No messages yet.")


def test_an_empty_private_message_is_refused_on_the_page(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    page = group_page(person(ROSE), crew)
    response = submit(page, page.get_by_role("button", name="Send privately"))
    assert response.status == 400
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Write your message first.")).to_be_visible()
    expect(page.locator("#private-body-error")).to_contain_text("Write your message first.")
    assert_no_axe(page, "support-member-thread-error-phone")


def test_settings_explain_leaving_quickly_and_show_her_check_ins_newest_first(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    session_id, _path = crew.session("live")
    rose = Speaker(crew, ROSE, session_id)
    rose.send(type="checkin.set", moment="in", mood="low", note=CHECKIN_NOTE)
    rose.wait("checkin.saved")
    rose.send(type="checkin.set", moment="out", mood="good")
    rose.wait("checkin.saved")
    rose.close()

    page = person(ROSE).new_page()
    page.goto("/settings/")
    box = page.get_by_label("Tell the hosts if I leave quickly")
    expect(box).to_be_checked()
    expect(page.locator("#tell-hosts-hint")).to_have_text(
        "When you use “Leave now” in a room, the hosts are told you left quickly, so someone "
        "can check on you later. Other members only see that you left."
    )
    history = page.locator("ul.checkins li")
    expect(history.first).to_contain_text("Leaving: Good")
    expect(history.nth(1)).to_contain_text("Arriving: Low")
    expect(history.nth(1)).to_contain_text(CHECKIN_NOTE)
    expect(history.first).to_contain_text(re.compile(r"Room test \d+"))
    page.locator("#leave-h").evaluate("node => node.scrollIntoView()")
    expect_in_view(box, "the choice")
    assert_no_axe(page, "support-settings-phone")
    screenshot(page, "support-settings-phone-full")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, "support-settings-desktop")
    page.set_viewport_size(PHONE)

    box.uncheck()
    submit(page, page.locator("section").filter(has=box).get_by_role("button", name="Save"))
    expect(page.locator(".flash")).to_contain_text("Saved.")
    expect(page.get_by_label("Tell the hosts if I leave quickly")).not_to_be_checked()
    box = page.get_by_label("Tell the hosts if I leave quickly")
    box.check()
    submit(page, page.locator("section").filter(has=box).get_by_role("button", name="Save"))
    expect(page.get_by_label("Tell the hosts if I leave quickly")).to_be_checked()


def test_leave_now_in_a_room_tells_the_hosts_she_left_quickly_and_nobody_else(
    crew: Crew,
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    person: Callable[..., BrowserContext],
) -> None:
    session_id, path = crew.session("live")
    host = Speaker(crew, FACILITATOR, session_id)
    rose = Speaker(crew, ROSE, session_id)
    # Jade signs in afresh: the quick exit ends this browser's session, not the module's one.
    context = new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, JADE, credentials[JADE])
    beacons: list[str] = []
    page.on(
        "request",
        lambda r: beacons.append(r.post_data or "") if r.url.endswith("/signout/") else None,
    )
    page.goto(path)
    # On a busy two-core machine the first connection can take longer than usual.
    expect(page.locator("#room")).to_have_attribute("data-conn", "online", timeout=30_000)
    room_ready(page)
    page.wait_for_function("() => typeof window.havenLeave === 'function'")
    page.get_by_role("button", name="Leave now").first.click()
    expect(page).to_have_title("Weather")

    told = host.wait("support.requested", lambda e: e.get("kind") == "left_quickly", timeout=10)
    assert told["display_name"] == "Jade" and told["note"] in (None, "")
    assert any(f'name="room"\r\n\r\n{session_id}' in body for body in beacons), beacons
    # Rose, in the same room, hears only that Jade left.
    with contextlib.suppress(AssertionError):
        rose.wait("nothing", timeout=1.0)
    assert "support.requested" not in [e["type"] for e in rose.seen]
    host.close()
    rose.close()

    # The facilitators also find it on the group page, so someone can check on her later.
    sam = group_page(person(FACILITATOR), crew)
    left = sam.locator("li.support-item.kind-left_quickly").filter(has_text="Jade")
    expect(left).to_contain_text("Jade: left the room quickly (with Leave now)")
    expect(left).to_contain_text(re.compile(r"In the room of “Room test \d+”"))
    left.scroll_into_view_if_needed()
    assert_no_axe(sam, "support-facilitator-left-quickly-phone")


def test_leave_now_on_the_group_page_sends_no_room(
    crew: Crew, new_context: Callable[..., BrowserContext], credentials: dict[str, str]
) -> None:
    context = new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, JADE, credentials[JADE])
    beacons: list[str] = []
    page.on(
        "request",
        lambda r: beacons.append(r.post_data or "") if r.url.endswith("/signout/") else None,
    )
    page.goto(f"/groups/{crew.group_id()}/")
    page.wait_for_function("() => typeof window.havenLeave === 'function'")
    page.get_by_role("button", name="Leave now").click()
    expect(page).to_have_title("Weather")
    page.wait_for_timeout(300)
    assert beacons and not any('name="room"' in body for body in beacons), beacons
