"""Issue 16, afterwards, as a facilitator sees it on a 360x740 phone and a 1280x800 laptop:
ending a session asks "End the session for everyone?" first (a page of its own, issue 17), then
she lands on the session summary; she ticks a follow-up, writes a debrief note, asks a lead to
talk and leaves a handover note; Past sessions lists the session. Every state: axe-core with no
violation of any impact, and a screenshot in var/screenshots/afterwards-*.png.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import HavenServer, screenshot, submit
from tests.browser.roomkit import (
    DESKTOP,
    FACILITATOR,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
    open_room,
)

pytestmark = pytest.mark.browser

DEBRIEF = "Rose found tonight hard. I stayed on after the end with her."
HANDOVER = "Start with grounding; Rose may want to go last in the round."
SIZES = {"phone": PHONE, "desktop": DESKTOP}
NOTE_ONE = "Light the candle and wait for everyone."
NOTE_TWO = "Watch Rose gently; she has a hearing soon."


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return request.param


def the_facilitator(
    crew: Crew, new_context: Callable[..., BrowserContext], size: str
) -> BrowserContext:
    return new_context(storage_state=crew.state(FACILITATOR), viewport=SIZES[size], bypass_csp=True)


def rose_asks_for_a_minute(crew: Crew, session_id: int) -> None:
    rose = crew.speaker(ROSE, session_id)
    try:
        rose.send(type="support.request", kind="minute", client_id=str(uuid.uuid4()))
        rose.wait("support.sent")
    finally:
        rose.close()


def end_from_the_room(page: Page, size: str) -> None:
    if size == "phone":
        page.locator("#tools-open").click()
        expect(page.locator("#people-dialog")).to_be_visible()
    page.locator("#end-session").click()


def test_ending_asks_first_then_the_facilitator_lands_on_the_summary_and_does_the_afterwards(
    crew: Crew, new_context: Callable[..., BrowserContext], size: str
) -> None:
    session_id, path = crew.session("live")
    rose_asks_for_a_minute(crew, session_id)
    sam = open_room(the_facilitator(crew, new_context, size), path)

    # "End the session for everyone?", in view, and "Keep it going" changes nothing.
    end_from_the_room(sam, size)
    expect(sam).to_have_url(re.compile(rf"/sessions/{session_id}/end/$"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("End the session for everyone?")
    expect_in_view(sam.get_by_role("button", name="End the session"), "End the session")
    expect_in_view(sam.get_by_role("link", name="Keep it going"), "Keep it going")
    assert_no_axe(sam, f"afterwards-{size}-end-confirm")
    sam.get_by_role("link", name="Keep it going").click()
    expect(sam.locator("#room")).to_have_attribute("data-conn", "online")
    expect(sam.locator("#end")).to_be_hidden()

    # Ending for real: the summary, once the server has ended it.
    end_from_the_room(sam, size)
    sam.get_by_role("button", name="End the session").click()
    expect(sam).to_have_url(re.compile(rf"/sessions/{session_id}/summary/$"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Session summary")
    assert sam.title() == "Session summary \N{EN DASH} Haven"
    register = sam.locator("ul.register > li")
    rose_row = register.filter(has_text="Rose")
    expect(rose_row).to_contain_text("Asked for support: I need a minute")
    expect(sam.get_by_text("passed", exact=False)).to_have_count(1)  # only "Nobody can see…"
    expect_in_view(sam.get_by_role("heading", name="Who came"), "the register's heading")
    assert_no_axe(sam, f"afterwards-{size}-summary")
    screenshot(sam, f"afterwards-{size}-summary-full")

    # A follow-up ticked and kept.
    follow = sam.locator("#follow-ups")
    rose_tick = follow.get_by_role("checkbox", name="Rose")
    expect(rose_tick).not_to_be_checked()
    rose_tick.check()
    submit(sam, follow.get_by_role("button", name="Save follow-ups"))
    expect_in_view(sam.get_by_text("Follow-ups saved."), "saved")
    expect(sam.locator("#follow-ups").get_by_role("checkbox", name="Rose")).to_be_checked()
    expect(sam.locator("#follow-ups")).to_contain_text("done by")

    # An empty debrief: the error summary, then the note.
    debrief = sam.locator("#debrief")
    submit(sam, debrief.get_by_role("button", name="Save debrief note"))
    summary = sam.locator(".error-summary")
    expect_in_view(summary, "the error summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Write your debrief note first.")).to_be_visible()
    assert sam.title().startswith("Error:")
    assert_no_axe(sam, f"afterwards-{size}-debrief-error")
    sam.locator("#debrief-body").fill(DEBRIEF)
    submit(sam, sam.locator("#debrief").get_by_role("button", name="Save debrief note"))
    expect_in_view(sam.get_by_text("Debrief note saved.", exact=False), "saved")
    expect(sam.locator("#debrief").get_by_text(DEBRIEF)).to_be_visible()

    # "This was a hard session, I would like to talk to someone."
    talk = sam.locator("#talk")
    expect(talk).to_contain_text("This was a hard session, I would like to talk to someone.")
    talk.get_by_label("Who would you like to talk to?").select_option(label="demo-lead")
    submit(sam, talk.get_by_role("button", name="Ask to talk"))
    expect_in_view(sam.get_by_text("Your request has been sent.", exact=False), "saved")

    # The handover note for the next facilitator.
    sam.locator("#handover-body").fill(HANDOVER)
    submit(sam, sam.locator("#handover").get_by_role("button", name="Save handover note"))
    expect_in_view(sam.get_by_text("Handover note saved.", exact=False), "saved")
    expect(sam.locator("#handover-body")).to_have_value(HANDOVER)
    assert_no_axe(sam, f"afterwards-{size}-summary-done")
    screenshot(sam, f"afterwards-{size}-summary-done-full")

    # Past sessions keeps it, with its summary and "How people were".
    sam.goto(f"/groups/{crew.group_id()}/past/")
    expect(sam.get_by_role("heading", level=1)).to_have_text("Past sessions")
    row = sam.locator("ul.past-sessions > li").filter(
        has=sam.locator(f'a[href="/sessions/{session_id}/summary/"]')
    )
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=re.compile("^How people were"))).to_be_visible()
    assert_no_axe(sam, f"afterwards-{size}-past")
    row.get_by_role("link", name=re.compile("^Summary")).click()
    expect(sam.locator("#debrief").get_by_text(DEBRIEF)).to_be_visible()


def test_hosts_step_through_the_plan_in_the_room_and_members_never_see_its_notes(
    crew: Crew,
    new_context: Callable[..., BrowserContext],
    size: str,
) -> None:
    session_id, path = crew.session("live")
    crew.call(
        FACILITATOR,
        "PUT",
        f"/api/v1/sessions/{session_id}/plan/",
        {
            "items": [
                {"title": "Arrive", "kind": "check_in", "minutes": 10, "notes": NOTE_ONE},
                {
                    "title": "The courts",
                    "kind": "topic",
                    "minutes": 30,
                    "notes": NOTE_TWO,
                    "content_warnings": ["police_courts"],
                },
            ]
        },
    )
    sam = open_room(the_facilitator(crew, new_context, size), path)
    if size == "phone":
        sam.locator("#tools-open").click()
        expect(sam.locator("#people-dialog")).to_be_visible()
    agenda = sam.locator("#plan-list > li")
    expect(agenda).to_have_count(2)
    expect(agenda.nth(0)).to_have_attribute("aria-current", "step")
    expect(agenda.nth(0)).to_contain_text(NOTE_ONE)
    expect(agenda.nth(0).locator(".plan-time")).to_have_text(re.compile(r"^\d\d:\d\d\s*$"))
    expect(agenda.nth(1)).to_contain_text("30 min")
    expect(agenda.nth(1)).to_contain_text("May touch on: Police and courts")
    expect(agenda.nth(1)).not_to_contain_text(NOTE_TWO)
    sam.locator("#plan-list").scroll_into_view_if_needed()
    assert_no_axe(sam, f"afterwards-{size}-room-plan")

    sam.get_by_role("button", name="Next item").click()
    expect(agenda.nth(1)).to_have_attribute("aria-current", "step")
    expect(agenda.nth(1)).to_contain_text(NOTE_TWO)
    expect(sam.get_by_role("button", name="Next item")).to_be_disabled()
    sam.reload()
    if size == "phone":
        sam.locator("#tools-open").click()
    expect(sam.locator("#plan-list > li").nth(1)).to_have_attribute("aria-current", "step")

    rose_context = new_context(storage_state=crew.state(ROSE), viewport=SIZES[size])
    rose = open_room(rose_context, path)
    expect(rose.locator("#plan-wrap")).to_be_hidden()
    content = rose.content()
    assert NOTE_ONE not in content and NOTE_TWO not in content


def test_the_plan_page_keeps_an_items_content_warnings_on_a_phone_and_a_laptop(
    crew: Crew, new_context: Callable[..., BrowserContext], size: str
) -> None:
    session_id, _path = crew.session("open")
    sam = the_facilitator(crew, new_context, size).new_page()
    sam.goto(f"/sessions/{session_id}/plan/")
    expect(sam.get_by_role("heading", level=1)).to_have_text("Session plan")
    first = sam.locator("fieldset.plan-item").nth(0)
    first.get_by_label("Title").fill("Talking about the courts")
    first.get_by_label("Kind").select_option(label="Topic")
    first.locator("summary").click()
    first.get_by_label("Police and courts").check()
    assert_no_axe(sam, f"afterwards-{size}-plan")
    submit(sam, sam.get_by_role("button", name="Save plan"))

    expect(sam.get_by_text("Plan saved.")).to_be_visible()
    saved = sam.locator("fieldset.plan-item").nth(0)
    expect(saved.get_by_label("Title")).to_have_value("Talking about the courts")
    expect(saved.locator("summary")).to_have_text("Content warnings (1)")
    expect(saved.get_by_label("Police and courts")).to_be_checked()
    assert_no_axe(sam, f"afterwards-{size}-plan-saved")
