"""PRODUCT.md "A session, end to end", in five real browsers at once.

The facilitator, the peer mentor (co-host) and three members (Rose, Jade, Amber) each have
their own browser context on the seeded demo organisation. The test walks the session in
order: agreement, going live, content warnings sent and added, a round with a pass, a concern
only the facilitators see, a mute with a private reason, a grounding pause, a dropped
connection for everyone (Daphne killed and started again) with nothing missed or shown twice,
the end of the session, and the concern's answer reaching the woman who raised it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import (
    GROUP_NAME,
    OPEN_SESSION_TITLE,
    HavenServer,
    expect_hidden,
    screenshot,
    sign_in,
    submit,
)
from tests.browser.roomkit import open_options, post, room_ready

pytestmark = pytest.mark.browser

FACILITATOR = "demo-facilitator"
MENTOR = "demo-mentor"
ROSE = "demo-rose"
JADE = "demo-jade"
AMBER = "demo-amber"
ROLES = {
    "facilitator": FACILITATOR,
    "mentor": MENTOR,
    "rose": ROSE,
    "jade": JADE,
    "amber": AMBER,
}
NAMES = {"Mari": "mentor", "Rose": "rose", "Jade": "jade", "Amber": "amber"}
MEMBERS = ["mentor", "rose", "jade", "amber"]

JADE_TEXT = "Something happened with a client last month that I have not told anyone about."
ROSE_TEXT = "A client grabbed my arm hard on Saturday and would not let go."
AMBER_TEXT = "Rose, you owe me. Come and work with me after this and do not tell anyone."
CONCERN_TEXT = "Amber is pushing me to work with her and says I owe her. It scares me."
MUTE_REASON = "Pressuring someone to work is against our agreement. Take ten minutes."
PAUSE_NOTE = "Breathe in for four, out for six"
AFTER_DROP = "Welcome back, everyone. The connection dropped for a moment."
ROUND_PROMPT = "One word for how you are arriving"


def messages(page: Page) -> Locator:
    return page.locator("#messages li.message")


def posted(page: Page, text: str, cw_label: str | None = None) -> str:
    """Post a message from `page`; wait for the server's ack; return its element id."""
    mine = post(page, text, cw_label)
    element_id = mine.get_attribute("id")
    assert element_id and element_id.startswith("m-"), element_id
    return element_id


def expect_collapsed(page: Page, element_id: str, label: str, text: str) -> Locator:
    item = page.locator(f"#{element_id}")
    toggle = item.get_by_role("button", name=re.compile(rf"^Content warning: {label}"))
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_text(text)).to_have_count(0)
    return toggle


def connected(page: Page) -> None:
    room_ready(page)


def may_send(page: Page, yes: bool) -> None:
    """Send is never greyed out without the reason beside it (issue 14)."""
    expect(page.locator("#send")).to_have_attribute("aria-disabled", "true" if not yes else "false")
    if yes:
        expect(page.locator("#why")).to_be_hidden()
    else:
        expect(page.locator("#why")).to_be_visible()


def test_a_session_end_to_end(
    new_context: Callable[..., BrowserContext],
    credentials: dict[str, str],
    haven: HavenServer,
    restart_haven: Callable[..., None],
) -> None:
    contexts = {role: new_context() for role in ROLES}
    pages = {role: contexts[role].new_page() for role in ROLES}
    fac, mentor, rose, jade, amber = (pages[r] for r in ROLES)
    everyone = list(pages.values())

    # Everyone signs in. Amber reads the agreement and accepts it.
    for role, username in ROLES.items():
        sign_in(pages[role], username, credentials[username])
    for page in everyone:
        page.get_by_role("link", name=GROUP_NAME).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    submit(amber, amber.get_by_role("button", name="I accept this agreement"))
    expect(amber.get_by_text("You have accepted this version.")).to_be_visible()

    # Everyone opens the room from the group page ("Enter the room" on today's session).
    for page in everyone:
        session = page.locator("li.session").filter(
            has=page.get_by_role("heading", name=OPEN_SESSION_TITLE)
        )
        session.get_by_role("link", name="Enter the room").click()
        expect(page).to_have_url(re.compile(r"/sessions/\d+/room/$"))
        connected(page)
    expect(fac.locator("#host-panel")).to_be_visible()
    expect(mentor.locator("#host-panel")).to_be_visible()
    expect(fac.locator("#end-session")).to_be_visible()
    expect_hidden(mentor.locator("#end-session"))
    for page in (rose, jade, amber):
        expect(page.locator("#host-panel")).to_be_hidden()
        expect(page.locator("#why")).to_contain_text("Waiting for the host to start.")
        may_send(page, False)

    # The facilitator goes live.
    fac.get_by_role("button", name="Go live", exact=True).click()
    for page in everyone:
        expect(page.locator("#state-pill")).to_have_text("Live")
        may_send(page, True)
    for page in (mentor, rose, jade, amber):
        expect_hidden(page.locator("#turn-done"))
        expect_hidden(page.locator("#turn-pass"))

    # Jade marks her message "Sexual violence": it arrives collapsed for everyone else.
    jade_id = posted(jade, JADE_TEXT, "Sexual violence")
    expect(jade.locator(f"#{jade_id} .body")).to_have_text(JADE_TEXT)
    for page in (fac, mentor, amber):
        expect_collapsed(page, jade_id, "Sexual violence", JADE_TEXT)
    toggle = expect_collapsed(rose, jade_id, "Sexual violence", JADE_TEXT)
    toggle.click()
    expect(rose.locator(f"#{jade_id} .body")).to_have_text(JADE_TEXT)
    expect(rose.locator(f"#{jade_id} .body")).to_be_focused()
    expect(rose.locator(f"#{jade_id} .cw-tag")).to_have_text("Content warning: Sexual violence")

    # Rose posts without a warning; the peer mentor adds one; Jade now sees it collapsed.
    rose_id = posted(rose, ROSE_TEXT)
    expect(jade.locator(f"#{rose_id} .body")).to_have_text(ROSE_TEXT)
    open_options(mentor, mentor.locator(f"#{rose_id}")).get_by_role(
        "button", name="Add a content warning"
    ).click()
    dialog = mentor.locator("#mod-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#mod-h")).to_have_text("Add a content warning")
    dialog.locator("#mod-cw").select_option(label="Physical violence")
    dialog.get_by_role("button", name="Add the warning").click()
    expect(dialog).to_be_hidden()
    expect_collapsed(jade, rose_id, "Physical violence", ROSE_TEXT)
    expect_collapsed(amber, rose_id, "Physical violence", ROSE_TEXT)
    expect(rose.locator(f"#{rose_id} .body")).to_have_text(ROSE_TEXT)
    expect(rose.locator(f"#{rose_id} .cw-tag")).to_have_text("Content warning: Physical violence")

    # A check-in round: every member and the mentor in turn; the second one passes.
    fac.locator("#round-prompt").fill(ROUND_PROMPT)
    fac.locator("#round-form").get_by_role("button", name="Start round").click()
    now = fac.locator("#round-order li.now .name")
    expect(fac.locator("#round-prompt-shown")).to_have_text(f"Round: {ROUND_PROMPT}")
    taken: list[str] = []
    for turn in range(len(MEMBERS)):
        expect(now).to_have_count(1)
        text = now.inner_text()
        role = NAMES[text]
        taken.append(role)
        current = pages[role]
        expect(current.locator("#round-line")).to_contain_text("Your turn.")
        expect(current.locator("#state-pill")).to_have_text("Your turn")
        expect(current.locator("#turn-done")).to_be_visible()
        expect(current.locator("#turn-pass")).to_be_visible()
        for other in MEMBERS:
            if other != role:
                expect_hidden(pages[other].locator("#turn-done"))
                expect_hidden(pages[other].locator("#turn-pass"))
        if turn == 1:
            current.locator("#turn-pass").click()
        else:
            current.locator("#turn-done").click()
        if turn < len(MEMBERS) - 1:
            expect(now).not_to_have_text(text)
            expect_hidden(current.locator("#turn-done"))
    assert sorted(taken) == sorted(MEMBERS), taken
    for page in everyone:
        expect(page.locator("#round-line")).to_be_hidden()
        expect(page.locator("#messages .system").filter(has_text="Round finished")).to_have_count(1)

    # Amber pressures Rose; Rose raises a concern about that message.
    amber_id = posted(amber, AMBER_TEXT)
    expect(rose.locator(f"#{amber_id} .body")).to_have_text(AMBER_TEXT)
    expect(amber.locator(f"#{amber_id} button.opts")).to_have_count(0)
    open_options(rose, rose.locator(f"#{amber_id}")).get_by_role(
        "button", name="Raise a concern"
    ).click()
    concern_dialog = rose.locator("#concern-dialog")
    expect(concern_dialog).to_be_visible()
    expect(concern_dialog.locator("#concern-message")).to_have_text("About the message from Amber.")
    expect(concern_dialog.locator("#concern-body")).to_be_focused()
    concern_dialog.locator("#concern-body").fill(CONCERN_TEXT)
    concern_dialog.get_by_role("button", name="Send privately").click()
    expect(concern_dialog).to_be_hidden()
    expect(rose.locator("#feedback")).to_contain_text("Only the facilitators can see it.")

    # Only the facilitator is told, at once; the others (the mentor too: Rose did not share it
    # with peer mentors) hear nothing.
    alert = fac.locator("#alerts li").filter(has_text="A new concern was raised.")
    expect(alert).to_have_count(1)
    href = alert.get_by_role("link", name="Open the concern").get_attribute("href")
    assert href and re.fullmatch(r"/concerns/\d+/", href), href
    fac.wait_for_timeout(500)
    for page in (mentor, rose, jade, amber):
        expect(page.locator("#alerts li")).to_have_count(0)
        expect(page.get_by_text("concern was raised")).to_have_count(0)

    inbox = contexts["facilitator"].new_page()
    inbox.goto("/concerns/")
    to_answer = inbox.locator("section").filter(has=inbox.get_by_role("heading", name="To answer"))
    expect(to_answer.locator(f'a[href="{href}"]')).to_have_count(1)
    inbox.close()
    for role in ("amber", "jade"):
        other = contexts[role].new_page()
        other.goto("/concerns/")
        expect(other.locator(f'a[href="{href}"]')).to_have_count(0)
        expect(other.get_by_role("heading", name="To answer")).to_have_count(0)
        expect(other.get_by_text("You have not raised a concern.")).to_be_visible()
        other.goto(href)
        expect(other.get_by_text(CONCERN_TEXT)).to_have_count(0)
        other.close()

    # The facilitator mutes Amber for ten minutes; only Amber sees the reason, and only the
    # hosts see that she is muted (issue 14: a mute is not announced by name).
    open_options(fac, fac.locator(f"#{amber_id}")).get_by_role("button", name="Mute Amber").click()
    mod = fac.locator("#mod-dialog")
    expect(mod).to_be_visible()
    expect(mod.locator("#mod-h")).to_have_text("Mute Amber")
    mod.locator("#mod-reason").fill(MUTE_REASON)
    mod.locator("#mod-minutes").fill("10")
    mod.get_by_role("button", name="Mute Amber").click()
    expect(mod).to_be_hidden()
    may_send(amber, False)
    expect(amber.locator("#why")).to_contain_text("You are muted until")
    expect(amber.locator("#notices .notice").filter(has_text=MUTE_REASON)).to_have_count(1)
    for page in (fac, mentor):
        amber_row = page.locator("#present li").filter(has_text="Amber")
        expect(amber_row).to_contain_text(re.compile(r"muted until \d\d:\d\d"))
    for page in (fac, mentor, rose, jade):
        expect(page.get_by_text(MUTE_REASON)).to_have_count(0)
    for page in (rose, jade):
        expect(page.get_by_text("Amber is muted")).to_have_count(0)
        expect(page.get_by_text("muted until")).to_have_count(0)
    may_send(rose, True)

    # A grounding break, then back to the session.
    fac.locator("#pause-note").fill(PAUSE_NOTE)
    fac.get_by_role("button", name="Pause for grounding").click()
    for page in everyone:
        expect(page.locator("#state-pill")).to_have_text("Paused")
        expect(page.locator("#messages .system").filter(has_text=PAUSE_NOTE)).to_have_count(1)
    for page in (rose, jade):
        expect(page.locator("#why")).to_contain_text(f"Paused for a grounding break. {PAUSE_NOTE}")
        may_send(page, False)
    fac.get_by_role("button", name="Resume", exact=True).click()
    for page in everyone:
        expect(page.locator("#state-pill")).to_have_text("Live")
    may_send(rose, True)
    may_send(amber, False)

    # Everyone's connection drops at once (the server process dies and comes back).
    before_ids = messages(jade).evaluate_all("items => items.map(i => i.id)")
    assert len(before_ids) == len(set(before_ids)) == 3, before_ids

    def everyone_dropped() -> None:
        for page in everyone:
            expect(page.locator("#state-pill")).to_have_text("Offline")
            expect(page.locator("#why")).to_contain_text("Reconnecting")

    restart_haven(between=everyone_dropped)
    for page in everyone:
        connected(page)
    may_send(amber, False)
    fac.locator("#body").fill(AFTER_DROP)
    fac.locator("#send").click()
    for page in everyone:
        expect(messages(page).filter(has_text=AFTER_DROP)).to_have_count(1)
        expect(page.locator("#send-state")).to_be_hidden()
    after_ids = messages(jade).evaluate_all("items => items.map(i => i.id)")
    assert len(after_ids) == len(set(after_ids)), f"a message is shown twice: {after_ids}"
    assert after_ids[: len(before_ids)] == before_ids, (before_ids, after_ids)
    assert len(after_ids) == len(before_ids) + 1, (before_ids, after_ids)
    for page in everyone:
        ids = messages(page).evaluate_all("items => items.map(i => i.id)")
        assert ids == after_ids, (page.url, ids, after_ids)

    for role, page in pages.items():
        screenshot(page, f"room-{role}")

    # The facilitator closes the session, after saying yes to "End the session for everyone?".
    fac.get_by_role("link", name="End session").click()
    fac.get_by_role("button", name="End the session").click()
    # She lands on the session summary (issue 16); everyone else gets the end screen.
    expect(fac.get_by_role("heading", level=1)).to_have_text("Session summary")
    for page in everyone:
        if page is fac:
            continue
        expect(page.locator("#end")).to_be_visible()
        expect(page.locator("#end")).to_contain_text("The session has ended")
        expect(page.locator("#body")).to_be_hidden()

    # The concern's status and a reply reach Rose.
    fac.goto(href)
    expect(fac.get_by_text(CONCERN_TEXT)).to_be_visible()
    status_form = fac.locator("form").filter(has=fac.locator("#status"))
    status_form.locator("#status").select_option(index=0)
    chosen = status_form.locator("#status option:checked").inner_text()
    status_form.locator("#note").fill("We have read this and will talk with you tomorrow.")
    submit(fac, status_form.get_by_role("button", name="Save"))
    reply_form = fac.locator("form").filter(has=fac.locator("#reply"))
    reply_form.locator("#reply").fill("Thank you for telling us. You did the right thing.")
    submit(fac, reply_form.get_by_role("button", name="Send"))
    rose.goto(href)
    expect(rose.locator("p.meta strong").first).to_have_text(chosen)
    expect(rose.get_by_text("We have read this and will talk with you tomorrow.")).to_be_visible()
    expect(rose.get_by_text("You did the right thing.")).to_be_visible()
    expect(rose.get_by_text("Raised by")).to_have_count(0)
