"""Haven in the languages its members speak, in a real browser (issue 18).

A member who chooses Română at the foot of her group page reads the room's own texts in
Romanian: the state bar, the buttons, a private notice and the content-warning fold (the
expected words are read from the catalogues, so this fails while a message is untranslated),
and Shift pressed three times still leaves. The room and the group page have no axe-core
violation in each language, at 360x740 and 1280x800, with `lang` set on the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import HavenServer
from tests.browser.roomkit import (
    DESKTOP,
    JADE,
    MENTOR,
    PHONE,
    ROSE,
    Crew,
    Speaker,
    assert_no_axe,
    open_room,
    post,
    room_ready,
)
from tests.browser.test_room_phone import speakers  # noqa: F401 - a fixture, used by name
from tests.catalogues import SHIPPED, Entry, po_path, read_po

pytestmark = pytest.mark.browser

OWN_NAMES = {"en": "English", "es": "Español", "pt-br": "Português (Brasil)", "ro": "Română"}
HIDE_REASON = "Prea multe detalii pentru grup."


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    """The server reads the compiled catalogues, as `make browser-test` builds them."""
    call_command("compilemessages", ignore_patterns=[".venv", "node_modules", "var"], verbosity=0)


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    people = Crew(browser=browser, haven=haven, credentials=credentials)
    yield people
    people.close()


def catalogue(code: str) -> dict[str, str]:
    """msgid → msgstr of both domains (singular messages)."""
    found: dict[str, str] = {}
    for domain in ("django", "djangojs"):
        for entry in read_po(po_path(code, domain)):
            if not entry.plural:
                found[entry.msgid] = entry.msgstr
    return found


def entries(code: str) -> list[Entry]:
    return read_po(po_path(code, "django")) + read_po(po_path(code, "djangojs"))


def english_in(text: str, code: str) -> list[str]:
    """Marked English shown where the language has different words (two words or more)."""
    return sorted(
        e.msgid
        for e in entries(code)
        if not e.plural
        and e.msgstr
        and e.msgstr != e.msgid
        and len(e.msgid.split()) >= 2
        and "%" not in e.msgid
        and e.msgid in text
    )


def translated(words: dict[str, str], msgid: str) -> str:
    text = words.get(msgid, "")
    assert text and text != msgid, f"not translated: {msgid!r}"
    return text


def choose(page: Page, code: str) -> None:
    """Her choice at the foot of the page; the same page comes back in that language (kept on
    her account, so a later test may find it made already)."""
    if page.locator("html").get_attribute("lang") == code:
        return
    page.get_by_role("button", name=OWN_NAMES[code], exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", code)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_member_who_chooses_romana_reads_the_room_in_romanian_and_shift_x3_still_leaves(
    crew: Crew,
    new_context: Callable[..., BrowserContext],
    speakers: Callable[[str, int], Speaker],  # noqa: F811 - the fixture imported above
    haven: HavenServer,
    size: dict[str, int],
) -> None:
    ro = catalogue("ro")
    # The quick exit at the end signs her out: each run signs her in afresh.
    crew.states.pop(ROSE, None)
    context = new_context(storage_state=crew.state(ROSE), viewport=size, bypass_csp=True)
    page = context.new_page()
    page.goto(f"/groups/{crew.group_id()}/")
    choose(page, "ro")
    choice = page.locator(".language-choice")
    choice.scroll_into_view_if_needed()
    expect(choice.locator('[aria-current="true"]')).to_have_text("Română")

    session_id, path = crew.session("live")
    mari = speakers(MENTOR, session_id)
    jade = speakers(JADE, session_id)
    page = open_room(context, path)
    room_ready(page)

    # The state bar and the buttons.
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.locator("#state-pill")).to_have_text(translated(ro, "Live"))
    expect(page.locator("#send")).to_have_text(translated(ro, "Send"))
    support = translated(ro, "I need support")
    expect(page.get_by_role("button", name=support, exact=True)).to_be_visible()

    # The content-warning fold: Jade's message about violence, folded by default.
    jade.say("Ceva greu despre o noapte rea.", warning="physical_violence")
    label = translated(ro, "Physical violence")
    fold = translated(ro, "Content warning: %(label)s. Show message") % {"label": label}
    expect(page.locator(".cw-toggle").first).to_have_text(fold)

    # A private notice: Mari hides her message, with a reason, told in her language.
    item = post(page, "Un mesaj cu prea multe detalii.")
    message_id = int((item.get_attribute("id") or "").removeprefix("m-"))
    mari.command(type="message.hide", message_id=message_id, reason=HIDE_REASON)
    card = page.locator("#notices .notice").filter(has_text=HIDE_REASON)
    hid = translated(ro, "%(name)s hid your message.") % {"name": "Mari"}
    expect(card).to_contain_text(hid)
    expect(card).to_contain_text(translated(ro, "Only you can see this."))
    expect(card.get_by_role("button", name=translated(ro, "Hide notice"))).to_be_visible()

    assert english_in(page.locator("#room").inner_text(), "ro") == []

    for _ in range(3):
        page.keyboard.press("Shift")
    expect(page).to_have_url(haven.neutral_url)
    crew.states.pop(ROSE, None)


def open_in(
    crew: Crew, new_context: Callable[..., BrowserContext], size: dict[str, int], code: str
) -> tuple[BrowserContext, Page]:
    """Jade, who reads `code`: her choice made on her group page."""
    context = new_context(storage_state=crew.state(JADE), viewport=size, bypass_csp=True)
    page = context.new_page()
    page.goto(f"/groups/{crew.group_id()}/")
    choose(page, code)
    return context, page


@pytest.mark.parametrize("code", ["en", *SHIPPED])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_room_and_the_group_page_have_no_axe_violation_in_each_language(
    crew: Crew,
    new_context: Callable[..., BrowserContext],
    size: dict[str, int],
    code: str,
) -> None:
    context, page = open_in(crew, new_context, size, code)
    where = f"{code}-{'phone' if size is PHONE else 'desktop'}"
    expect(page.locator("html")).to_have_attribute("lang", code)
    footer = page.locator(".language-choice")
    footer.scroll_into_view_if_needed()
    box: Any = footer.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
    assert_no_axe(page, f"group-{where}")

    _session_id, path = crew.session("live")
    room = open_room(context, path)
    room_ready(room)
    expect(room.locator("html")).to_have_attribute("lang", code)
    if code != "en":
        words = catalogue(code)
        expect(room.locator("#state-pill")).to_have_text(translated(words, "Live"))
        assert re.search(r"\S", room.locator("#send").inner_text())
    assert_no_axe(room, f"room-{where}")
