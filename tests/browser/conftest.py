"""Browser test fixtures: a real Haven server (Daphne) driven by Debian's Chromium.

These tests do not use pytest-django's test database. Each test module gets its own server: a
fresh folder (a copy of one migrated and seeded template, made once per run) with SQLite and the
in-memory channel layer, served by Daphne on a free loopback port, exactly as `make run` serves
it. The quick exit goes to a tiny neutral page served by a thread on another loopback port.

Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium 156 builds each window's address-bar popup as a web page of its own (a renderer
    # per browser context, about a quarter of the browser's CPU in these tests); headless
    # windows never show it
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
]
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
WAIT_MS = 10_000
START_TIMEOUT = 20.0
GROUP_NAME = "Thursday evening circle"
OPEN_SESSION_TITLE = "Evening circle: looking after ourselves"

expect.set_options(timeout=WAIT_MS)


# --- the order of the files ----------------------------------------------------------------------

# With `--dist loadfile` each file runs whole on one xdist worker, taken in collection order as
# workers come free. Taking the longest first keeps the run from ending on one worker with a
# long file while the others wait (it once spent its last two minutes so). Seconds per file,
# measured on three workers (2026-12-06): the heaviest, in order; the rest keep theirs.
LONGEST_FIRST = [
    "test_room_phone.py",  # 180 s
    "test_room_desktop.py",  # 163 s
    "test_accessibility.py",  # 133 s
    "test_room_support.py",  # 98 s
    "test_afterwards.py",  # 78 s
    "test_languages.py",  # 75 s
    "test_no_dead_ends.py",  # 71 s
    "test_support_pages.py",  # 69 s
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: within a file, and among the rest, the order stays


# --- tools that must be there ------------------------------------------------------------------


def require(present: bool, message: str) -> None:
    """Outside CI a missing tool skips the browser tests; in CI it is a failure."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_path() -> str:
    found = shutil.which("chromium")
    require(
        found is not None or Path(CHROMIUM).exists(),
        f"Chromium is missing: install Debian's chromium package ({CHROMIUM})",
    )
    return found or CHROMIUM


def axe_path() -> Path:
    require(AXE.exists(), f"axe-core is missing ({AXE}): run `npm install --prefix tests/browser`")
    return AXE


# --- the parent conftest's autouse fixtures need the test database; these tests do not ------


@pytest.fixture(autouse=True)
def _fast_hashers() -> None:
    """The server runs in its own process; nothing to change in this one."""


@pytest.fixture(autouse=True)
def _reset_lockouts() -> None:
    """Each module has its own server and database: no lockouts to reset."""


# --- small helpers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class CsrfRejected(AssertionError):
    """Haven refused one of its own forms as a cross-site request (HTTP 403)."""


class HiddenShown(AssertionError):
    """An element carries the `hidden` attribute but is displayed all the same."""


def expect_hidden(locator: Locator) -> None:
    """expect().to_be_hidden(), telling a CSS-overridden `hidden` attribute apart."""
    try:
        expect(locator).to_be_hidden()
    except AssertionError as exc:
        if locator.count() == 1 and locator.get_attribute("hidden") is not None:
            raise HiddenShown(f"{locator} has the hidden attribute but is displayed") from exc
        raise


def submit(page: Page, button: Locator) -> Response:
    """Click a form's submit button; fail with CsrfRejected if Haven refuses the form."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.request.resource_type == "document"
    ) as answer:
        button.click()
    response = answer.value
    if response.status == 403:
        body = response.text()
        if "CSRF" in body:
            reason = re.search(r"<pre>(.*?)</pre>", body, re.S)
            raise CsrfRejected(
                f"POST {response.url} refused by the CSRF check: "
                f"{reason.group(1).strip() if reason else 'see the 403 page'} "
                f"(request Origin: {response.request.all_headers().get('origin')!r})"
            )
    return response


# The demo staff's authenticator keys, by username (from the seeded demo-credentials.json),
# and the last 30-second step each one's code was used at: a code works once.
TOTP_SECRETS: dict[str, str] = {}
_LAST_STEP: dict[tuple[str, str], int] = {}


def totp_now(base_url: str, username: str) -> str:
    """A code her authenticator app would show that the server has not accepted yet (the
    server allows one step of drift; past that, wait for the next step)."""
    from tests.conftest import totp_code

    step = int(time.time() // 30)
    wanted = max(step, _LAST_STEP.get((base_url, username), step - 1) + 1)
    while wanted > step + 1:
        time.sleep(30 - time.time() % 30 + 0.05)
        step = int(time.time() // 30)
    _LAST_STEP[(base_url, username)] = wanted
    return totp_code(TOTP_SECRETS[username], steps_ahead=wanted - step)


def sign_in_password(page: Page, username: str, password: str) -> None:
    page.goto("/signin/")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    submit(page, page.get_by_role("button", name="Sign in", exact=True))


def sign_in(page: Page, username: str, password: str) -> None:
    """Sign in as the pages ask: the password, then, for staff, the code of the second page."""
    sign_in_password(page, username, password)
    if username in TOTP_SECRETS:
        expect(page).to_have_url(re.compile(r"/signin/code/$"))
        base_url = page.url.split("/signin/", 1)[0]
        page.locator("#otp").fill(totp_now(base_url, username))
        submit(page, page.get_by_role("button", name="Continue", exact=True))
    expect(page).to_have_url(re.compile(r"/groups/$"))


def back_through_history(page: Page, base_url: str, presses: int) -> Iterator[tuple[str, str]]:
    """Press Back up to `presses` times (after a quick exit, say), giving each page reached:
    its address and, for Haven's own pages, the text she sees there ("" elsewhere)."""
    for _ in range(presses):
        if page.go_back(wait_until="load") is None:
            return
        shown = page.locator("body").inner_text() if page.url.startswith(base_url) else ""
        yield page.url, shown


# --- the neutral exit page ---------------------------------------------------------------------

NEUTRAL_PAGE = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Weather</title></head>"
    b"<body><h1>Weather</h1><p>Sunny intervals, light winds.</p></body></html>"
)


class _NeutralHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(NEUTRAL_PAGE)))
        self.end_headers()
        self.wfile.write(NEUTRAL_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="session")
def neutral_url() -> Iterator[str]:
    """A neutral page ("the weather") on a loopback port: where the quick exit goes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NeutralHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/weather"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the Haven server --------------------------------------------------------------------------


def server_env(var_dir: Path, neutral_url: str) -> dict[str, str]:
    """The embedded defaults (SQLite, in-memory layer, debug), whatever this shell has set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HAVEN_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "HAVEN_VAR_DIR": str(var_dir),
            "HAVEN_EXIT_URL": neutral_url,
            "HAVEN_HEARTBEAT_SECONDS": "2",
            "HAVEN_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def seeded_template(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, neutral_url: str
) -> Path:
    """One migrated, seeded var folder; every module's server starts from a copy of it. Under
    pytest-xdist the first worker makes it in the run's own folder (shared by the workers,
    new each run) and the others wait for it: migrating and seeding cost seconds of CPU."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent
    var_dir = root / "haven-template"
    with (root / "haven-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (var_dir / "seeded").exists():
            var_dir.mkdir(exist_ok=True)
            env = server_env(var_dir, neutral_url)
            manage("migrate", "--no-input", "-v", "0", env=env)
            manage("seed_demo", env=env)
            (var_dir / "seeded").touch()
    return var_dir


class HavenServer:
    """Daphne serving Haven on one loopback port; it can be killed and started again."""

    def __init__(self, var_dir: Path, neutral_url: str) -> None:
        self.var_dir = var_dir
        self.neutral_url = neutral_url
        self.port = free_port()
        self.env = server_env(var_dir, neutral_url)
        self.log = var_dir / "daphne.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def credentials(self) -> dict[str, Any]:
        found = json.loads((self.var_dir / "demo-credentials.json").read_text())
        for row in found["accounts"]:
            if row.get("totp_secret"):
                TOTP_SECRETS[row["username"]] = row["totp_secret"]
        return found

    def start(self) -> None:
        self.starts += 1
        command = [
            sys.executable,
            "-m",
            "project.serve",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--access-log",
            os.devnull,
            "project.asgi:application",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"Daphne exited at start:\n{tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/signin/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"Daphne not answering after {START_TIMEOUT}s:\n{tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL: every connection drops at once, as when the network goes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self, between: Callable[[], None] | None = None) -> None:
        """Kill and start again on the same port; `between` runs while it is down."""
        self.kill()
        if between is not None:
            between()
        self.start()


@pytest.fixture(scope="module")
def haven(
    tmp_path_factory: pytest.TempPathFactory, seeded_template: Path, neutral_url: str
) -> Iterator[HavenServer]:
    """A Haven server for this module, on its own copy of the seeded demo data."""
    var_dir = tmp_path_factory.mktemp("haven")
    shutil.copytree(seeded_template, var_dir, dirs_exist_ok=True)
    server = HavenServer(var_dir, neutral_url)
    server.credentials()  # the demo staff's authenticator keys, for `sign_in`
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def restart_haven(haven: HavenServer) -> Callable[..., None]:
    """Kill Daphne and start it again on the same port: a dropped connection for everyone."""
    return haven.restart


@pytest.fixture(scope="module")
def credentials(haven: HavenServer) -> dict[str, str]:
    """The demo accounts' passwords, by username."""
    return {row["username"]: row["password"] for row in haven.credentials()["accounts"]}


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    instance = playwright.chromium.launch(
        executable_path=executable, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def new_context(browser: Browser, haven: HavenServer) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (separate people) on this module's server; closed afterwards."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("base_url", haven.base_url)
        context = browser.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
