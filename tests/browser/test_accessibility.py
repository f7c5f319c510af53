"""Every page, at a desktop and a phone size: axe-core, the neutral title, loopback-only loads
and a Content-Security-Policy without 'unsafe-inline' (PRODUCT.md: WCAG 2.2 AA, works on a
phone, nothing sensitive in page titles).

axe is injected from tests/browser/node_modules into a context that bypasses the page's CSP
(the served pages keep their CSP; only the test's own script is let in). Each run's violations
(any impact) are written next to its screenshot in var/screenshots/ for reading; the test fails
on a violation of any impact, on every page and state.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import (
    GROUP_NAME,
    OPEN_SESSION_TITLE,
    SCREENSHOTS,
    WAIT_MS,
    HavenServer,
    axe_path,
    screenshot,
    sign_in,
    sign_in_password,
    submit,
)
from tests.browser.roomkit import open_options, post, room_ready

pytestmark = pytest.mark.browser

MEMBER = "demo-rose"
FACILITATOR = "demo-facilitator"
ADMIN = "demo-admin"
LEAD = "demo-lead"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}
# Titles say what the page is, never a group, a session or a pseudonym (WCAG 2.4.2, issue 14).
PRIVATE_WORDS = [GROUP_NAME, OPEN_SESSION_TITLE, "Rose", "Jade", "Amber", "Mari", "Sam"]
CW_TEXT = "A message about something hard that happened, behind a content warning."
PLAIN_TEXT = "Welcome, everyone. We start in a few minutes."


@dataclass
class Site:
    """What the pages need, made once per module on first use (inside a test, so that an app
    bug on the way shows as that test's failure, not as a setup error)."""

    browser: Browser
    haven: HavenServer
    credentials: dict[str, str]
    states: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    room_ready: bool = False

    def context(self, **options: Any) -> BrowserContext:
        context = self.browser.new_context(base_url=self.haven.base_url, **options)
        context.set_default_timeout(WAIT_MS)
        return context

    def state(self, username: str) -> Any:
        if username not in self.states:
            context = self.context()
            try:
                page = context.new_page()
                sign_in(page, username, self.credentials[username])
                self.states[username] = context.storage_state()
            finally:
                context.close()
        return self.states[username]

    def url(self, name: str) -> str:
        if not self.urls:
            self._find_urls()
        if name.startswith("concern-") and name not in self.urls:
            self._raise_concern()
        return self.urls[name]

    def _find_urls(self) -> None:
        context = self.context(storage_state=self.state(FACILITATOR))
        try:
            page = context.new_page()
            page.goto("/groups/")
            page.get_by_role("link", name=GROUP_NAME).click()
            expect(page).to_have_url(re.compile(r"/groups/\d+/$"))
            self.urls["group"] = page.url.removeprefix(self.haven.base_url)
            session = page.locator("li.session").filter(
                has=page.get_by_role("heading", name=OPEN_SESSION_TITLE)
            )
            self.urls["room"] = session.get_by_role("link", name="Enter the room").get_attribute(
                "href"
            )
            self.urls["plan"] = session.get_by_role("link", name="Plan").get_attribute("href")
            # "How people were" (issue 15): the facilitators' page of a session's check-ins.
            self.urls["checkins"] = self.urls["room"].replace("/room/", "/checkins/")
        finally:
            context.close()

    def _raise_concern(self) -> None:
        """Rose raises a concern through the form on /concerns/."""
        context = self.context(storage_state=self.state(MEMBER))
        try:
            page = context.new_page()
            page.goto("/concerns/")
            page.locator("#c-group").select_option(label=GROUP_NAME)
            page.locator("#c-cat").select_option("my_wellbeing")
            page.locator("#c-body").fill("I felt unsafe on my way home after the last session.")
            submit(page, page.get_by_role("button", name="Send privately"))
            expect(page).to_have_url(re.compile(r"/concerns/\d+/$"))
            self.urls["concern-detail"] = page.url.removeprefix(self.haven.base_url)
        finally:
            context.close()

    def seed_room(self) -> None:
        """The facilitator posts two messages (one behind a warning) while the room is open,
        after the member has come in once (a member reads what is said from then on)."""
        if self.room_ready:
            return
        member = self.context(storage_state=self.state(MEMBER))
        try:
            page = member.new_page()
            page.goto(self.url("room"))
            room_ready(page)
        finally:
            member.close()
        context = self.context(storage_state=self.state(FACILITATOR))
        try:
            page = context.new_page()
            page.goto(self.url("room"))
            room_ready(page)
            post(page, CW_TEXT, "Sexual violence")
            post(page, PLAIN_TEXT)
        finally:
            context.close()
        self.room_ready = True


@pytest.fixture(scope="module")
def site(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Site:
    return Site(browser=browser, haven=haven, credentials=credentials)


# --- what to do on a page once it is loaded ------------------------------------------------------


def room_connected(page: Page) -> None:
    room_ready(page)
    expect(page.locator("#messages li.message")).to_have_count(2)


def member_concern_dialog(page: Page) -> None:
    room_connected(page)
    message = page.locator("#messages li.message").filter(has_text=PLAIN_TEXT)
    open_options(page, message).get_by_role("button", name="Raise a concern").click()
    expect(page.locator("#concern-dialog")).to_be_visible()


def host_moderation_dialog(page: Page) -> None:
    room_connected(page)
    message = page.locator("#messages li.message").filter(has_text=PLAIN_TEXT)
    open_options(page, message).get_by_role("button", name="Add a content warning").click()
    expect(page.locator("#mod-dialog")).to_be_visible()


def staff_code_page(page: Page, *, wrong: bool = False) -> None:
    """The second page of a staff sign-in (after the password), or it answering a wrong code."""
    sign_in_password(page, FACILITATOR, CREDENTIALS[FACILITATOR])
    expect(page).to_have_url(re.compile(r"/signin/code/$"))
    if wrong:
        page.locator("#otp").fill("000000")
        submit(page, page.get_by_role("button", name="Continue", exact=True))
        expect(page.locator(".error-summary")).to_be_visible()


def audit_error(page: Page) -> None:
    """A concern number that is not a number: the error summary, the filters open."""
    page.get_by_text("Filter the log").click()
    page.locator("#audit-concern").fill("twelve")
    page.get_by_role("button", name="Show").click()  # a GET form
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#audit-concern")).to_have_value("twelve")


def signin_reset_error(page: Page) -> None:
    submit(page, page.get_by_role("button", name="Set my new password"))
    expect(page.locator(".error-summary")).to_be_visible()


def reset_code_made(page: Page) -> None:
    """An admin opens Jade's history from the group page and makes her a reset code."""
    page.get_by_role("link", name="History of Jade").first.click()
    submit(page, page.get_by_role("button", name="Make a reset code"))
    expect(page.get_by_role("heading", name="One-time reset code")).to_be_visible()


def staff_added(page: Page) -> None:
    """An admin adds a staff member: her first sign-in details, shown once."""
    page.locator("#staff-username").fill(f"new-{uuid.uuid4().hex[:8]}")
    page.get_by_label("Safeguarding lead").check()
    submit(page, page.get_by_role("button", name="Add staff member"))
    expect(page.get_by_role("heading", name="Staff member added")).to_be_visible()


def staff_error(page: Page) -> None:
    submit(page, page.get_by_role("button", name="Add staff member"))
    expect(page.locator(".error-summary")).to_be_visible()


def staff_switch_off(page: Page) -> None:
    page.get_by_role("link", name=re.compile("^Switch off this account")).first.click()
    expect(page.get_by_role("heading", name=re.compile("^Switch off"))).to_be_visible()


# The demo passwords, by username (filled from the `site` fixture by `test_page`).
CREDENTIALS: dict[str, str] = {}


@dataclass(frozen=True)
class Target:
    name: str
    user: str | None
    path: str  # a path, or the name of a Site url
    ready: Callable[[Page], None] | None = None
    room: bool = False  # the room is seeded first (two messages, Rose came in once)


TARGETS = [
    Target("landing", None, "/"),
    Target("signin", None, "/signin/"),
    Target("signin-code", None, "/signin/", staff_code_page),
    Target("signin-code-error", None, "/signin/", lambda page: staff_code_page(page, wrong=True)),
    Target("join", None, "/join/"),
    Target("groups", MEMBER, "/groups/"),
    Target("group-member", MEMBER, "group"),
    Target("group-facilitator", FACILITATOR, "group"),
    Target("plan", FACILITATOR, "plan"),
    Target("room-member", MEMBER, "room", room_connected, room=True),
    Target("room-facilitator", FACILITATOR, "room", room_connected, room=True),
    Target("room-concern-dialog", MEMBER, "room", member_concern_dialog, room=True),
    Target("room-moderation-dialog", FACILITATOR, "room", host_moderation_dialog, room=True),
    Target("concerns-member", MEMBER, "/concerns/"),
    Target("concerns-facilitator", FACILITATOR, "/concerns/"),
    Target("concern-member", MEMBER, "concern-detail"),
    Target("concern-facilitator", FACILITATOR, "concern-detail"),
    Target("settings", MEMBER, "/settings/"),
    Target("checkins-facilitator", FACILITATOR, "checkins", room=True),
    Target("overview-lead", LEAD, "/overview/", room=True),
    Target("audit-lead", LEAD, "/audit/"),
    Target("audit-admin-filtered", ADMIN, "/audit/?action=agreement.published"),
    Target("audit-error", ADMIN, "/audit/", audit_error),
    Target("signin-reset", None, "/signin/reset/"),
    Target("signin-reset-error", None, "/signin/reset/", signin_reset_error),
    Target("reset-code", ADMIN, "group", reset_code_made),
    Target("staff", ADMIN, "/staff/"),
    Target("staff-error", ADMIN, "/staff/", staff_error),
    Target("staff-added", ADMIN, "/staff/", staff_added),
    Target("staff-switch-off", ADMIN, "/staff/", staff_switch_off),
]


def cases() -> list[Any]:
    params = []
    for target in TARGETS:
        for size in SIZES:
            params.append(pytest.param(target, size, id=f"{target.name}-{size}"))
    return params


def brief(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": result["id"],
        "impact": result["impact"],
        "help": result["help"],
        "tags": result["tags"],
        "nodes": [
            {"target": n["target"], "html": n["html"], "summary": n.get("failureSummary")}
            for n in result["nodes"]
        ],
    }


def summarise(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} elements)")
        for node in v["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}")
    return "\n".join(lines)


@pytest.mark.parametrize(("target", "size"), cases())
def test_page(
    target: Target,
    size: str,
    site: Site,
    haven: HavenServer,
    new_context: Callable[..., BrowserContext],
) -> None:
    axe = axe_path()
    CREDENTIALS.update(site.credentials)
    options: dict[str, Any] = {"viewport": SIZES[size], "bypass_csp": True}
    if target.user:
        options["storage_state"] = site.state(target.user)
    if target.room:
        site.seed_room()
    path = target.path if target.path.startswith("/") else site.url(target.path)

    context = new_context(**options)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(path)
    assert response is not None
    assert response.status == 200, f"GET {path}: {response.status}"
    assert page.url == f"{haven.base_url}{path}", f"GET {path} ended at {page.url}"
    if target.ready:
        target.ready(page)
        # a state reached by a form may be checked before its page's stylesheets have loaded
        # (white header text over no header yet, seen once under load): axe reads the page
        # she sees, once it has loaded
        page.wait_for_load_state("load")

    page.add_script_tag(path=str(axe))
    results = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations', 'incomplete']})"
    )
    violations = [brief(v) for v in results["violations"]]
    screenshot(page, f"{target.name}-{size}")
    report = {
        "rules_passed": len(results["passes"]),
        "violations": violations,
        "incomplete": [brief(v) for v in results["incomplete"]],
    }
    (SCREENSHOTS / f"axe-{target.name}-{size}.json").write_text(json.dumps(report, indent=2))

    problems = []
    # Any violation fails, whatever its impact (the brief: 0 violations of any impact).
    if violations:
        problems.append(f"axe found violations:\n{summarise(violations)}")
    title = page.title()
    if not title.endswith("Haven") or any(word in title for word in PRIVATE_WORDS):
        problems.append(f"the title is {title!r}: it must say what the page is, and no more")
    if target.path == "room" and title != "Room \N{EN DASH} Haven":
        problems.append(f"the room's title is {title!r}, not 'Room \N{EN DASH} Haven'")
    csp = response.headers.get("content-security-policy")
    if not csp:
        problems.append("no Content-Security-Policy header")
    elif "unsafe-inline" in csp:
        problems.append(f"the Content-Security-Policy allows 'unsafe-inline': {csp}")
    outside = [url for url in requested if not url.startswith("http://127.0.0.1")]
    if outside:
        problems.append(f"loads from outside loopback: {outside}")
    assert not problems, f"{target.name} at {size}:\n" + "\n".join(problems)
