"""Issue 16, agreements that do not lock people out mid-session, as people see them on a
360x740 phone and a 1280x800 laptop: the facilitator writes the next version (the draft),
checks what changed and publishes it; a session already live lets Rose straight in on the
version she accepted; a session that opened after it shows her, at the room's door, what
changed and "I accept version N", which lets her straight in; a co-host (Mari) does the same;
the acceptance list counts who has accepted and says, in amber, who needs to.

Each state is checked with axe-core (no violation of any impact) and saved as a screenshot in
var/screenshots/agreement-*.png.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer
from tests.browser.roomkit import (
    DESKTOP,
    FACILITATOR,
    MENTOR,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
    room_ready,
)

pytestmark = pytest.mark.browser

NEW_POINT = "We leave advice out unless someone asks for it."


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def person(crew: Crew, new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """A browser of one of the seeded people (CSP bypassed only for the test's axe script)."""

    def make(username: str, viewport: dict[str, int] = PHONE) -> BrowserContext:
        return new_context(storage_state=crew.state(username), viewport=viewport, bypass_csp=True)

    return make


def publish_next_version(page: Page, crew: Crew) -> int:
    """The facilitator writes the next version from the draft, checks it, publishes it."""
    page.goto(f"/groups/{crew.group_id()}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    page.locator("#write-next").click()
    box = page.locator("#points")
    expect(box).to_be_visible()
    box.fill(box.input_value().rstrip() + "\n" + NEW_POINT)
    assert_no_axe(page, "agreement-publish-form-phone")
    page.get_by_role("button", name="Check the changes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check the changes")
    expect_in_view(page.locator("ul.changes.added li", has_text=NEW_POINT))
    publish = page.locator("#publish")
    expect_in_view(publish)
    version = int(publish.inner_text().rsplit(" ", 1)[1])
    assert_no_axe(page, "agreement-publish-check-phone")
    publish.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    return version


def door(page: Page, path: str, version: int, name: str) -> None:
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("The group’s agreement has changed")  # noqa: RUF001
    expect_in_view(page.locator("#changes li", has_text=NEW_POINT))
    accept = page.get_by_role("button", name=f"I accept version {version}")
    expect_in_view(accept)
    assert_no_axe(page, name)
    accept.click()
    room_ready(page)


def test_a_new_version_keeps_a_live_session_open_and_is_accepted_at_the_room_door(
    crew: Crew, person: Callable[..., BrowserContext]
) -> None:
    live_id, live_path = crew.session("live")
    later_id, later_path = crew.session("scheduled")

    facilitator = person(FACILITATOR).new_page()
    version = publish_next_version(facilitator, crew)
    for step in ("open", "live"):
        crew.call(FACILITATOR, "PATCH", f"/api/v1/sessions/{later_id}/", {"status": step})

    # The session that was live before the new version: Rose goes straight in.
    rose = person(ROSE).new_page()
    rose.goto(live_path)
    room_ready(rose)

    # The one that opened after it: the door, then straight in (phone).
    door(rose, later_path, version, "agreement-door-phone")
    # A co-host at the door (laptop).
    door(person(MENTOR, DESKTOP).new_page(), later_path, version, "agreement-door-desktop")

    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = person(FACILITATOR, viewport).new_page()
        page.goto(f"/groups/{crew.group_id()}/#acc")
        count = page.locator("#acc-count")
        expect(count).to_contain_text(f"have accepted version {version}")
        total = page.locator("ul.acceptances > li").count()
        expect(count).to_have_text(f"3 of {total} have accepted version {version}")
        needs = page.locator("ul.acceptances .acc-needs").first
        expect(needs).to_have_text(f"Needs to accept version {version}")
        expect_in_view(count)
        assert_no_axe(page, f"agreement-acceptances-{size}")
    assert live_id != later_id
