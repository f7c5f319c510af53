"""Issue 16, members and invites, as a facilitator sees them on a 360x740 phone and a
1280x800 laptop: "Create invite" leads to a page with the code in view, "Copy" and "Print a
card" (the printed card carries the code and a neutral address, never the group); "Make 10
codes"; removing a member goes through the confirmation page (an error summary when the reason
is missing, nothing done), and her record opens from the group page.

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/members-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, screenshot, submit
from tests.browser.roomkit import (
    AMBER,
    DESKTOP,
    FACILITATOR,
    PHONE,
    Crew,
    assert_no_axe,
    expect_in_view,
)

pytestmark = pytest.mark.browser

CODE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
REASON = "Shared a screenshot of the room outside the group"
MESSAGE = "Take two weeks. We would like you back after that."


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def facilitator(crew: Crew, new_context: Callable[..., BrowserContext]) -> BrowserContext:
    """The facilitator's browser on a phone. Bypassing the CSP only lets axe's script in."""
    context = new_context(storage_state=crew.state(FACILITATOR), viewport=PHONE, bypass_csp=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context


def group_page(context: BrowserContext, crew: Crew) -> Page:
    page = context.new_page()
    page.goto(f"/groups/{crew.group_id()}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    return page


def both_sizes(page: Page, name: str) -> None:
    assert_no_axe(page, f"members-{name}-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, f"members-{name}-desktop")
    page.set_viewport_size(PHONE)


def test_create_invite_shows_the_code_in_view_with_copy_and_a_card(
    crew: Crew, facilitator: BrowserContext
) -> None:
    page = group_page(facilitator, crew)
    form = page.locator("form.invite-form")
    form.get_by_label("Label (only staff see it)").fill("Drop-in, Tuesday")
    form.get_by_label("Valid for").select_option("1")
    create = form.get_by_role("button", name="Create invite")
    create.scroll_into_view_if_needed()
    expect_in_view(create, "Create invite")
    both_sizes(page, "invite-form")

    submit(page, create)
    expect(page).to_have_url(re.compile(r"/groups/\d+/invites/new/$"))
    expect(page).to_have_title("New invite code \N{EN DASH} Haven")
    code = page.locator(".invite-code").first
    expect(code).to_have_text(CODE)
    shown = code.inner_text()
    assert shown not in page.url
    copy = page.get_by_role("button", name="Copy")
    card = page.get_by_role("button", name="Print a card")
    expect_in_view(code, "the new code")
    expect_in_view(copy, "Copy")
    expect_in_view(card, "Print a card")
    expect(page.locator(".staff-only")).to_contain_text("Drop-in, Tuesday")
    expect(page.get_by_role("heading", name="Handing it over safely")).to_be_visible()

    copy.click()
    expect(page.locator("#copied-1")).to_have_text("Copied. Paste it where you need it.")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    both_sizes(page, "invite-created")

    # What "Print a card" prints: the card alone, with the code and a neutral address.
    page.emulate_media(media="print")
    expect(page.locator(".invite-codes")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    printed = page.locator(".invite-card")
    expect(printed).to_have_count(1)
    expect(printed).to_contain_text(shown)
    expect(printed).to_contain_text("/join/")
    for revealing in (GROUP_NAME, "Haven", "Drop-in"):
        expect(printed).not_to_contain_text(revealing)
    screenshot(page, "members-invite-card-print")
    page.emulate_media(media="screen")

    # Shown once: a reload (or Back) does not bring it back.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("This code has already been shown")
    expect(page.locator(".invite-code")).to_have_count(0)
    both_sizes(page, "invite-gone")

    listed = (
        group_page(facilitator, crew).locator(".invite-list li").filter(has_text="Drop-in, Tuesday")
    )
    expect(listed).to_contain_text("used 0 of 1")


def test_make_10_codes_shows_ten_codes_to_print_as_cards(
    crew: Crew, facilitator: BrowserContext
) -> None:
    page = group_page(facilitator, crew)
    form = page.locator("form.invite-form")
    form.get_by_label("Label (only staff see it)").fill("New group, first ten")
    form.get_by_label("Valid for").select_option("30")

    submit(page, form.get_by_role("button", name="Make 10 codes"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your 10 new invite codes")
    codes = page.locator(".invite-code")
    expect(codes).to_have_count(10)
    assert len(set(codes.all_inner_texts())) == 10
    expect_in_view(codes.first, "the first code")
    expect(page.get_by_role("button", name="Copy")).to_have_count(10)
    expect_in_view(page.get_by_role("heading", level=1), "the heading")
    expect_in_view(page.get_by_role("button", name="Print the cards"), "Print the cards")
    both_sizes(page, "invite-ten")
    page.emulate_media(media="print")
    expect(page.locator(".invite-card")).to_have_count(10)
    screenshot(page, "members-invite-ten-print")


def test_removing_a_member_goes_through_the_confirmation_page(
    crew: Crew, facilitator: BrowserContext, new_context: Callable[..., BrowserContext]
) -> None:
    page = group_page(facilitator, crew)
    member = page.locator("ul.roster > li").filter(has_text="Amber").first
    link = member.get_by_role("link", name=re.compile(r"^Pause or remove Amber"))
    link.scroll_into_view_if_needed()
    both_sizes(page, "roster")
    link.click()
    expect(page).to_have_url(re.compile(r"/groups/\d+/members/\d+/remove/$"))
    expect(page).to_have_title("Pause or remove a member \N{EN DASH} Haven")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pause or remove Amber")
    both_sizes(page, "remove-form")

    # No reason: an error summary, her words kept, nothing done.
    page.get_by_label("Remove from the group").check()
    page.get_by_label("A message to her (she will see it)").fill("Please talk to us first.")
    response = submit(page, page.get_by_role("button", name="Confirm"))
    assert response.status == 400
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect_in_view(summary, "the error summary")
    expect(summary).to_contain_text("Write the reason. Only staff will see it.")
    expect(page).to_have_title("Error: Pause or remove a member \N{EN DASH} Haven")
    expect(page.get_by_label("A message to her (she will see it)")).to_have_value(
        "Please talk to us first."
    )
    both_sizes(page, "remove-error")
    summary.get_by_role("link", name="Write the reason. Only staff will see it.").click()
    expect(page.locator("#reason")).to_be_focused()
    back = group_page(facilitator, crew)
    expect(back.locator("ul.roster > li").filter(has_text="Amber")).to_have_count(1)

    # With a reason: paused for 2 weeks; she moves to "Paused or removed".
    page.get_by_label("Pause for some weeks").check()
    page.get_by_label("How many weeks").select_option("2")
    page.locator("#reason").fill(REASON)
    page.get_by_label("A message to her (she will see it)").fill(MESSAGE)
    submit(page, page.get_by_role("button", name="Confirm"))
    expect(page).to_have_url(re.compile(r"/groups/\d+/#main$"))
    flash = page.locator(".flash")
    expect(flash).to_contain_text("Amber is paused. She can come back on")
    expect_in_view(flash, "what happened")
    away = page.locator(".away-list li").filter(has_text="Amber")
    expect(away).to_contain_text("paused until")
    expect(page.locator("body")).not_to_contain_text(REASON)
    away.scroll_into_view_if_needed()
    both_sizes(page, "paused")

    # She is told on her groups page, with the message and never the reason.
    amber = new_context(storage_state=crew.state(AMBER), viewport=PHONE, bypass_csp=True)
    hers = amber.new_page()
    hers.goto("/groups/")
    notice = hers.locator(".decision-notice")
    expect(notice).to_contain_text(f"You are on a pause from {GROUP_NAME} until")
    expect(notice).to_contain_text(MESSAGE)
    expect(hers.locator("body")).not_to_contain_text(REASON)
    expect_in_view(notice.get_by_role("heading"), "the notice")
    both_sizes(hers, "paused-her-groups")


def test_her_record_opens_from_the_group_page_and_she_can_be_brought_back(
    crew: Crew, facilitator: BrowserContext
) -> None:
    page = group_page(facilitator, crew)
    away = page.locator(".away-list li").filter(has_text="Amber")
    away.get_by_role("link", name="History of Amber").click()
    expect(page).to_have_title("Member history \N{EN DASH} Haven")
    expect(page.get_by_role("heading", level=1)).to_have_text("Amber: her history in this group")
    expect_in_view(page.get_by_role("heading", level=1), "the heading")
    decisions = page.locator("section").filter(has=page.locator("#decisions-h"))
    expect(decisions).to_contain_text("Paused")
    expect(decisions.locator(".staff-only-box")).to_contain_text(REASON)
    both_sizes(page, "history")

    page = group_page(facilitator, crew)
    away = page.locator(".away-list li").filter(has_text="Amber")
    submit(page, away.get_by_role("button", name="Bring Amber back"))
    expect(page.locator(".flash")).to_contain_text("She is back in the group.")
    expect(page.locator("ul.roster > li").filter(has_text="Amber")).to_have_count(1)
