"""What the live room's browser tests share (issue 14): people signed in once per module, a
fresh session per test (made over REST as the facilitator), a plain WebSocket "speaker" for the
people whose screens a test does not look at, and assertions about what a person sees: an
element visible, inside the viewport without scrolling, and not covered by anything else.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from websockets.sync.client import ClientConnection, connect

from tests.browser.conftest import GROUP_NAME, WAIT_MS, HavenServer, axe_path, sign_in

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SIZES = {"phone": PHONE, "desktop": DESKTOP}

FACILITATOR = "demo-facilitator"
MENTOR = "demo-mentor"
ROSE = "demo-rose"
JADE = "demo-jade"
AMBER = "demo-amber"
SAM = "Sam (facilitator)"

_titles = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Crew:
    """The seeded people of one module's server, each signed in once (a staff code works once
    per 30 seconds, so signing in again would wait)."""

    browser: Browser
    haven: HavenServer
    credentials: dict[str, str]
    states: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, BrowserContext] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def state(self, username: str) -> Any:
        if username not in self.states:
            context = self.browser.new_context(base_url=self.haven.base_url)
            context.set_default_timeout(WAIT_MS)
            try:
                page = context.new_page()
                sign_in(page, username, self.credentials[username])
                self.states[username] = context.storage_state()
            finally:
                context.close()
        return self.states[username]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()
        self.contexts.clear()

    # --- REST, as a person ----------------------------------------------------------------

    def _context(self, username: str) -> BrowserContext:
        if username not in self.contexts:
            context = self.browser.new_context(
                base_url=self.haven.base_url, storage_state=self.state(username)
            )
            context.set_default_timeout(WAIT_MS)
            self.contexts[username] = context
        return self.contexts[username]

    def cookie(self, username: str, suffix: str) -> str:
        for cookie in self.state(username)["cookies"]:
            if cookie["name"].endswith(suffix):
                return cookie["value"]
        raise AssertionError(f"{username} has no {suffix} cookie")

    def call(self, username: str, method: str, path: str, body: Any = None) -> Any:
        context = self._context(username)
        response = context.request.fetch(
            f"{self.haven.base_url}{path}",
            method=method,
            data=json.dumps(body) if body is not None else None,
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self.cookie(username, "csrftoken"),
            },
        )
        assert response.ok, f"{method} {path} as {username}: {response.status} {response.text()}"
        return response.json() if response.status != 204 else None

    def group_id(self) -> int:
        if "group_id" not in self.cache:
            groups = self.call(FACILITATOR, "GET", "/api/v1/groups/")
            rows = groups["results"] if isinstance(groups, dict) else groups
            self.cache["group_id"] = next(g["id"] for g in rows if g["name"] == GROUP_NAME)
        return self.cache["group_id"]

    def member_ids(self) -> dict[str, int]:
        """member_id by display name."""
        if "members" not in self.cache:
            rows = self.call(FACILITATOR, "GET", f"/api/v1/groups/{self.group_id()}/members/")
            rows = rows["results"] if isinstance(rows, dict) else rows
            self.cache["members"] = {r["display_name"]: r["member_id"] for r in rows}
        return self.cache["members"]

    def accept_agreement(self, username: str) -> None:
        """Amber has not accepted the agreement in the seed: she does, over REST."""
        key = f"accepted-{username}"
        if key in self.cache:
            return
        path = f"/api/v1/groups/{self.group_id()}/agreement/"
        agreement = self.call(username, "GET", path)
        if not agreement["accepted_by_me"]:
            self.call(username, "POST", f"{path}accept/", {"version": agreement["version"]})
        self.cache[key] = True

    def session(self, status: str = "live", *, co_host: bool = True) -> tuple[int, str]:
        """A new session of the demo group, opened (and gone live); returns (id, room path).

        Every member comes into the room once at the start: a member reads what was said from
        her first entry on (docs/protocol-extensions.md), so a test's backlog is hers to read.
        """
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "title": f"Room test {next(_titles)}",
            "starts_at": iso(now - timedelta(minutes=1)),
            "ends_at": iso(now + timedelta(hours=2)),
            "kind": "drop_in",
        }
        if co_host:
            body["co_hosts"] = [self.member_ids()["Mari"]]
        created = self.call(
            FACILITATOR, "POST", f"/api/v1/groups/{self.group_id()}/sessions/", body
        )
        session_id = created["id"]
        steps = {"scheduled": [], "open": ["open"], "live": ["open", "live"]}[status]
        for step in steps[:1]:
            self.call(FACILITATOR, "PATCH", f"/api/v1/sessions/{session_id}/", {"status": step})
        if steps:
            self.accept_agreement(AMBER)
            for username in (MENTOR, ROSE, JADE, AMBER):
                Speaker(self, username, session_id).close()
        for step in steps[1:]:
            self.call(FACILITATOR, "PATCH", f"/api/v1/sessions/{session_id}/", {"status": step})
        return session_id, f"/sessions/{session_id}/room/"

    def next_session(self, *, days: int = 7) -> dict[str, Any]:
        """A session of the group a week from now (the end screen names the next one)."""
        start = datetime.now(UTC) + timedelta(days=days)
        body = {
            "title": f"Next week {next(_titles)}",
            "starts_at": iso(start),
            "ends_at": iso(start + timedelta(hours=2)),
            "kind": "booked",
        }
        return self.call(FACILITATOR, "POST", f"/api/v1/groups/{self.group_id()}/sessions/", body)

    # --- browsers and sockets -----------------------------------------------------------

    def speaker(self, username: str, session_id: int) -> Speaker:
        return Speaker(self, username, session_id)


class Speaker:
    """One person in the room over a plain WebSocket, for people whose screen a test does not
    look at (cheaper than a browser on a two-core machine)."""

    def __init__(self, crew: Crew, username: str, session_id: int) -> None:
        base = crew.haven.base_url
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in crew.state(username)["cookies"])
        self.socket: ClientConnection = connect(
            f"{base.replace('http', 'ws', 1)}/ws/sessions/{session_id}/",
            additional_headers={"Cookie": cookies, "Origin": base},
            open_timeout=10,
            close_timeout=2,
        ).__enter__()
        self.seen: list[dict[str, Any]] = []
        self.state = self.wait("session.state")

    def wait(
        self, kind: str, match: Any = None, timeout: float = 10.0, kinds: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The next event of type `kind` (or of any of `kinds`) that `match`es."""
        wanted = kinds or (kind,)
        for event in self.seen:
            if event["type"] in wanted and (match is None or match(event)):
                self.seen.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                raw = self.socket.recv(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                break
            event = json.loads(raw)
            if event["type"] in wanted and (match is None or match(event)):
                return event
            self.seen.append(event)
        errors = [e for e in self.seen if e["type"] == "error"]
        raise AssertionError(
            f"no {kind} event within {timeout}s; saw {[e['type'] for e in self.seen]}, {errors}"
        )

    def send(self, **frame: Any) -> None:
        self.socket.send(json.dumps(frame))

    def say(self, body: str, warning: str | None = None) -> dict[str, Any]:
        """Post and wait for the ack; a person may post 8 messages in 10 seconds (across
        sessions, so across tests too): when refused for that, wait and send it again."""
        client_id = str(uuid.uuid4())
        frame = {
            "type": "message.send",
            "client_id": client_id,
            "body": body,
            "content_warning": {"category": warning} if warning else None,
        }
        deadline = time.monotonic() + 15
        while True:
            self.send(**frame)
            answer = self.wait(
                "ack",
                lambda e: (
                    e.get("client_id") == client_id
                    or (e["type"] == "error" and e.get("ref") == client_id)
                ),
                kinds=("ack", "error"),
            )
            if answer["type"] == "ack":
                return answer
            assert answer["code"] == "rate_limited" and time.monotonic() < deadline, answer
            time.sleep(1)

    def command(self, **frame: Any) -> None:
        """A host command; fails on an error answering it."""
        self.send(**frame)
        time.sleep(0.05)
        errors = [e for e in self.seen if e["type"] == "error" and e.get("ref") == frame["type"]]
        assert not errors, errors

    def close(self) -> None:
        self.socket.close()


# --- pages ---------------------------------------------------------------------------------


def open_room(context: BrowserContext, path: str) -> Page:
    page = context.new_page()
    page.goto(path)
    room_ready(page)
    return page


def room_ready(page: Page) -> None:
    """Connected, and the backlog (the first replay) is in. A person may resume 12 times a
    minute, and these tests open her room more often than she would: the page waits and asks
    again, so allow for that."""
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(page.locator("#room")).to_have_attribute("data-backlog", "done", timeout=45_000)


def messages(page: Page) -> Locator:
    return page.locator("#messages li.message")


def message(page: Page, text: str) -> Locator:
    return messages(page).filter(has_text=text)


def post(page: Page, text: str, warning: str | None = None) -> Locator:
    """Write in the box and press Send; wait until the message is in the list and the box empty."""
    if warning:
        choose_warning(page, warning)
    page.locator("#body").fill(text)
    page.locator("#send").click()
    mine = message(page, text)
    expect(mine).to_have_count(1)
    expect(page.locator("#body")).to_have_value("")
    expect(page.locator("#send-state")).to_be_hidden()
    return mine


def choose_warning(page: Page, label: str) -> None:
    if page.locator("#cw-wrap").is_hidden():
        page.locator("#cw-toggle").click()
    page.locator("#cw").select_option(label=label)


def open_options(page: Page, item: Locator) -> Locator:
    """Open a message's one Options button; return its menu."""
    toggle = item.locator("button.opts")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    menu = item.locator(".menu")
    expect(menu).to_be_visible()
    return menu


def viewport_box(page: Page) -> tuple[int, int]:
    size = page.viewport_size
    assert size is not None
    return size["width"], size["height"]


def expect_in_view(locator: Locator, what: str = "") -> None:
    """Visible, wholly inside the viewport as it is now (no scrolling), and on top at its centre."""
    expect(locator).to_be_visible()
    page = locator.page
    width, height = viewport_box(page)
    deadline = time.monotonic() + WAIT_MS / 1000
    problem = ""
    while time.monotonic() < deadline:
        box = locator.bounding_box()
        if box is None:
            problem = "no box"
        elif box["x"] < -0.5 or box["y"] < -0.5:
            problem = f"starts outside the viewport: {box}"
        elif box["x"] + box["width"] > width + 0.5 or box["y"] + box["height"] > height + 0.5:
            problem = f"ends outside the {width}x{height} viewport: {box}"
        else:
            on_top = locator.evaluate(
                """node => {
                    const r = node.getBoundingClientRect();
                    const x = r.left + r.width / 2, y = r.top + r.height / 2;
                    const hit = document.elementFromPoint(x, y);
                    return !!hit && (node === hit || node.contains(hit));
                }"""
            )
            if on_top:
                return
            problem = f"covered by something else at its centre: {box}"
        time.sleep(0.1)
    raise AssertionError(f"{what or locator} is not in view without scrolling: {problem}")


def scroll_state(page: Page) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const s = document.scrollingElement;
            return {top: s.scrollTop, height: s.scrollHeight, view: innerHeight,
                    gap: s.scrollHeight - s.scrollTop - innerHeight};
        }"""
    )


def expect_at_bottom(page: Page) -> None:
    page.wait_for_function(
        """() => { const s = document.scrollingElement;
                   return s.scrollHeight - s.scrollTop - innerHeight < 4; }""",
        timeout=WAIT_MS,
    )


def inner_scrollers(page: Page) -> list[str]:
    """Elements of the room (not dialogs) that scroll on their own: there must be none."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#room *')].filter(node => {
            if (node.closest('dialog')) return false;
            const style = getComputedStyle(node);
            const scrolls = /(auto|scroll)/.test(style.overflowY + style.overflowX);
            return scrolls && (node.scrollHeight > node.clientHeight + 1
                               || node.scrollWidth > node.clientWidth + 1);
        }).map(node => node.tagName + '#' + node.id + '.' + node.className)"""
    )


def live_text(page: Page) -> str:
    return page.locator("#live").inner_text() + page.locator("#alert-live").inner_text()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(axe_path()))
    results = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [(n["target"], n["html"][:160]) for n in v["nodes"][:5]],
        }
        for v in results["violations"]
    ]


def assert_no_axe(page: Page, name: str) -> None:
    violations = axe_violations(page)
    shot(page, name)
    assert violations == [], f"axe, {name}:\n" + json.dumps(violations, indent=1)


def shot(page: Page, name: str) -> None:
    """What she sees: the viewport as it is, not the whole page."""
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def tab_count_to_box(page: Page, limit: int = 5) -> int:
    """Tab from the top of the page (a fresh load, nothing focused) until the message box has
    focus, following a skip link with Enter when one has focus. Returns the Tab presses."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
            " skip: document.activeElement.classList.contains('skip-link'),"
            " href: document.activeElement.getAttribute('href')})"
        )
        if focused["skip"] and focused["href"] == "#body":
            page.keyboard.press("Enter")
            focused = page.evaluate("() => ({id: document.activeElement.id})")
        if focused["id"] == "body":
            return presses
    raise AssertionError(f"the message box is not reached in {limit} Tab presses")


# --- the page's own socket (issue 15) ------------------------------------------------------


class Wire:
    """The room page's WebSocket, routed through Playwright: the server's frames of some types
    can be held back (to prove the page waits for the server), and the line can be cut (the
    page sees its socket close and cannot reconnect until it is mended)."""

    def __init__(self, page: Page) -> None:
        self.down = False
        self.hold: set[str] = set()
        self.held: list[tuple[Any, str]] = []
        self.live: list[tuple[Any, Any]] = []
        page.route_web_socket(re.compile(r"/ws/sessions/"), self._route)

    def _route(self, ws: Any) -> None:
        if self.down:
            ws.close(code=1001, reason="down")
            return
        server = ws.connect_to_server()

        def from_server(frame: str | bytes) -> None:
            kind = json.loads(frame).get("type") if isinstance(frame, str) else None
            if kind in self.hold:
                self.held.append((ws, frame))
            else:
                ws.send(frame)

        server.on_message(from_server)
        self.live.append((ws, server))

    def release(self) -> None:
        self.hold.clear()
        held, self.held = self.held, []
        for ws, frame in held:
            ws.send(frame)

    def cut(self) -> None:
        self.down = True
        live, self.live = self.live, []
        for ws, server in live:
            server.close()
            ws.close(code=1001, reason="down")

    def mend(self) -> None:
        self.down = False
