"""Concerns she can follow (issue 17), in a real browser at 360x740 and 1280x800: the raise form
says where a concern will go before she sends it and sends one straight to the safeguarding lead
(the group's facilitator then gets 404 for it); a staff reply puts a discreet dot on "Concerns"
and on the room's "Raise a concern", with nothing in the title, until she opens the concern.
Axe 0 on every state."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, submit
from tests.browser.roomkit import assert_no_axe, expect_in_view, room_ready
from tests.browser.test_accessibility import (
    FACILITATOR,
    LEAD,
    MEMBER,
    SIZES,
    Site,
)

pytestmark = pytest.mark.browser

PHONE = SIZES["phone"]


@pytest.fixture(scope="module")
def site(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Site:
    return Site(browser=browser, haven=haven, credentials=credentials)


def as_person(
    new_context: Callable[..., BrowserContext], site: Site, who: str, size: str = "phone"
) -> Page:
    context = new_context(viewport=SIZES[size], bypass_csp=True, storage_state=site.state(who))
    return context.new_page()


def fill_form(page: Page, text: str) -> None:
    page.goto("/concerns/")
    page.locator("#c-group").select_option(label=GROUP_NAME)
    page.locator("#c-body").fill(text)


@pytest.mark.parametrize("size", SIZES)
def test_the_form_says_where_it_will_go_and_sends_it_to_the_lead_alone(
    size: str, site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    page = as_person(new_context, site, MEMBER, size)
    fill_form(page, "The host talks about us to people outside the group.")
    where = page.locator("#c-where")
    expect(where.locator(".where-group")).to_be_visible()
    expect(where.locator(".where-lead")).to_be_hidden()
    page.locator("#c-share").check()
    expect(where.locator(".where-peers")).to_be_visible()
    expect(where.locator(".where-group")).to_be_hidden()
    page.get_by_label("The safeguarding lead").check()
    expect(where.locator(".where-lead")).to_have_text("It will go to: the safeguarding lead only.")
    expect(where.locator(".where-peers")).to_be_hidden()
    expect(page.locator("#c-share")).to_be_hidden()  # nobody in the group sees it
    expect(page.locator("#c-cat")).to_be_hidden()
    where.scroll_into_view_if_needed()
    expect_in_view(where, "where it will go")
    assert_no_axe(page, f"concern-follow-form-lead-{size}")
    submit(page, page.get_by_role("button", name="Send privately"))
    expect(page).to_have_url(re.compile(r"/concerns/\d+/$"))
    expect(page.locator("#concern-where")).to_contain_text("It went to the safeguarding lead only.")
    expect(page.locator("#concern-where")).to_contain_text(
        "We aim to answer a normal concern within 24 hours."
    )
    if size == "phone":
        expect_in_view(page.locator("#concern-where"), "where it went and when we aim to answer")
    assert_no_axe(page, f"concern-follow-sent-to-lead-{size}")
    path = page.url.removeprefix(site.haven.base_url)
    host = as_person(new_context, site, FACILITATOR, size)
    assert host.goto(path).status == 404
    lead = as_person(new_context, site, LEAD, size)
    assert lead.goto(path).status == 200
    expect(lead.get_by_role("heading", level=1)).to_have_text("Concern")


@pytest.mark.parametrize("size", SIZES)
def test_a_mistake_keeps_her_words_with_an_error_summary(
    size: str, site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    page = as_person(new_context, site, MEMBER, size)
    fill_form(page, "   ")
    page.get_by_label("The safeguarding lead").check()
    response = submit(page, page.get_by_role("button", name="Send privately"))
    assert response.status == 400
    expect(page).to_have_title(re.compile(r"^Error: Concerns"))
    summary = page.locator(".error-summary")
    expect_in_view(summary, "the error summary")
    expect(page.get_by_label("The safeguarding lead")).to_be_checked()
    assert_no_axe(page, f"concern-follow-error-{size}")


def test_a_staff_reply_shows_a_dot_until_she_opens_it(
    site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    path = site.url("concern-detail")  # Rose raised one for the group's facilitators
    host = as_person(new_context, site, FACILITATOR)
    host.goto(path)
    host.locator("#reply").fill("Thank you for telling us. Can we talk after the next session?")
    submit(host, host.get_by_role("button", name="Send"))

    for size in SIZES:
        page = as_person(new_context, site, MEMBER, size)
        page.goto("/groups/")
        nav = page.locator("#nav-concerns")
        dot = nav.locator(".nav-dot")
        expect(dot).to_be_visible()
        expect_in_view(nav, "Concerns with its dot")
        expect(nav).to_contain_text("(new answer)")
        expect(page).to_have_title("My groups \N{EN DASH} Haven")
        assert_no_axe(page, f"concern-follow-dot-{size}")
        page.goto("/concerns/")
        expect(page.locator("#mine-h ~ ul .new-answer")).to_have_count(1)
        assert_no_axe(page, f"concern-follow-list-new-answer-{size}")

    page = as_person(new_context, site, MEMBER)
    page.goto(site.url("room"))
    room_ready(page)
    button = page.locator("#concern-open")
    expect(button.locator(".nav-dot")).to_be_visible()
    expect(button).to_contain_text("(new answer)")
    button.click()
    expect(page.locator("#concern-dialog")).to_be_visible()
    expect(page.locator("#concern-unread")).to_be_visible()
    page.get_by_label("The safeguarding lead").check()
    expect(page.locator("#concern-where .where-lead")).to_be_visible()
    expect(page.locator("#concern-where .where-group")).to_be_hidden()
    assert_no_axe(page, "concern-follow-room-dialog-phone")
    page.keyboard.press("Escape")

    page.goto(path)
    expect(page.locator(".thread")).to_contain_text("Can we talk after the next session?")
    expect(page.locator("#nav-concerns .nav-dot")).to_have_count(0)
    page.goto("/groups/")
    expect(page.locator("#nav-concerns .nav-dot")).to_have_count(0)
    assert_no_axe(page, "concern-follow-dot-gone-phone")
