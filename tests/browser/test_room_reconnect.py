"""Getting back in after the server closed her socket (issue 20), on a 360x740 phone.

room.js waits a random time before each reconnect ("full jitter": between 250 ms and
min(5 s, 1 s * 2^attempt)), so the members of a process that stopped do not all come back at
the same instants. The page's Math.random is fixed (0, 0.5, 0.999) before room.js runs and every
wait it sets before calling `connect` is recorded: each is exactly the full-jitter formula for
that draw (the old fixed schedule waited 1, 2, 4 s whatever the draw). Meanwhile the
"reconnecting" line is in view, what she typed stays in the box, and once the server is back the
line is gone and her message goes, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import HavenServer, expect_hidden
from tests.browser.roomkit import (
    PHONE,
    ROSE,
    Crew,
    Wire,
    expect_in_view,
    message,
    room_ready,
    shot,
)

pytestmark = pytest.mark.browser

# room.js's numbers (bench/storm.py reads them from room.js; tests/bench checks both agree).
FLOOR_MS, BASE_MS, CAP_MS = 250, 1000, 5000
WAITS_SEEN = 3

# Before any page script: a fixed Math.random, and a record of the waits set for `connect`.
RECORD_WAITS = """
(() => {
  const draw = %r;
  Math.random = () => draw;
  window.reconnectWaits = [];
  const setTimeoutBefore = window.setTimeout;
  window.setTimeout = function (handler, ms, ...rest) {
    if (typeof handler === "function" && handler.name === "connect") {
      window.reconnectWaits.push(ms);
    }
    return setTimeoutBefore.call(window, handler, ms, ...rest);
  };
})();
"""


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    people = Crew(browser=browser, haven=haven, credentials=credentials)
    yield people
    people.close()


def full_jitter(attempt: int, draw: float) -> float:
    ceiling = min(CAP_MS, BASE_MS * 2**attempt)
    return FLOOR_MS + draw * max(0, ceiling - FLOOR_MS)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_after_the_server_closes_her_socket_she_waits_a_random_time_and_comes_back(
    crew: Crew, new_context: Callable[..., BrowserContext], draw: float
) -> None:
    _, path = crew.session("live")
    context = new_context(storage_state=crew.state(ROSE), bypass_csp=True, viewport=PHONE)
    context.add_init_script(RECORD_WAITS % draw)
    page = context.new_page()
    wire = Wire(page)
    page.goto(path)
    room_ready(page)
    why = page.locator("#why")
    box = page.locator("#body")
    typed = f"Written while the server was away ({draw})."
    box.fill(typed)
    assert page.evaluate("() => window.reconnectWaits") == []

    # The server side closes her socket, and refuses her until it is mended.
    wire.cut()
    expect(page.locator("#room")).to_have_attribute("data-conn", "offline")
    expect(why).to_contain_text("You are offline. Reconnecting")
    expect_in_view(why, "the reconnecting line")
    expect(box).to_have_value(typed)
    page.wait_for_function(f"() => window.reconnectWaits.length >= {WAITS_SEEN}", timeout=30_000)
    shot(page, f"room-phone-reconnecting-{draw}")
    wire.mend()

    room_ready(page)
    expect_hidden(why)
    expect(page.locator("#state-pill")).to_have_text("Live")
    expect(box).to_have_value(typed)
    waits = page.evaluate("() => window.reconnectWaits")
    assert waits[:WAITS_SEEN] == pytest.approx(
        [full_jitter(attempt, draw) for attempt in range(WAITS_SEEN)]
    ), waits
    assert all(FLOOR_MS <= wait <= CAP_MS for wait in waits), waits

    page.locator("#send").click()
    expect(message(page, typed)).to_have_count(1)
    expect(box).to_have_value("")
