"""The client's address behind a proxy (issue 13, high): one rule for HTTP and the WebSocket.

The address is the rightmost `X-Forwarded-For` hop that is not a trusted proxy, read only when
the direct peer is one of `HAVEN_TRUSTED_PROXIES`; without trusted proxies the header is ignored.
The lockout tests run the real server, `python -m project.serve`, started as the production
section of the README used to say (with Daphne's `--proxy-headers`), and send the header shape
nginx sends with `$proxy_add_x_forwarded_for`: whatever the client wrote, then the address nginx
saw.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from project import clientip, config
from tests.e2e.conftest import free_port, port_open, tail

# its module-scoped server is started once: the whole file on one xdist worker
pytestmark = pytest.mark.xdist_group("client_address")

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
# What nginx saw: the one address a woman signing in cannot choose.
REAL_CLIENT = "203.0.113.50"


def networks(*items: str) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        # No trusted proxies: the header is ignored, whatever it says.
        ("198.51.100.1", "203.0.113.9", (), "198.51.100.1"),
        # The peer is not a trusted proxy: the header is the client's own words.
        ("198.51.100.1", "203.0.113.9", ("10.0.0.0/8",), "198.51.100.1"),
        # Behind one trusted proxy: its hop, not the client-written ones to its left.
        ("10.0.0.2", "1.2.3.4, 203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9", ("10.0.0.2",), "203.0.113.9"),
        # Two trusted proxies in a row: skip both.
        ("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.7", ("10.0.0.0/8",), "203.0.113.9"),
        # A trusted proxy that sent no header: the proxy itself.
        ("10.0.0.2", None, ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", "  ", ("10.0.0.0/8",), "10.0.0.2"),
        # Garbage to the right of the client: the nearest trusted hop, never the garbage.
        ("10.0.0.2", "203.0.113.9, not-an-address", ("10.0.0.0/8",), "10.0.0.2"),
        # Every hop trusted: the leftmost one.
        ("10.0.0.2", "10.1.1.1, 10.2.2.2", ("10.0.0.0/8",), "10.1.1.1"),
        # Ports and IPv6 as proxies write them.
        ("10.0.0.2", "203.0.113.9:4711", ("10.0.0.0/8",), "203.0.113.9"),
        ("::1", "[2001:db8::5]:443", ("::1",), "2001:db8::5"),
        ("::1", "2001:DB8::5", ("::1",), "2001:db8::5"),
    ],
)
def test_the_client_address_is_the_rightmost_untrusted_hop(
    peer: str, header: str | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert clientip.client_address(peer, header, networks(*trusted)) == expected


def test_trusted_proxies_are_read_as_addresses_or_networks() -> None:
    read = config.env_networks({"P": "127.0.0.1, 10.0.0.0/8 ,::1"}, "P")
    assert [str(n) for n in read] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert config.env_networks({}, "P") == ()
    assert config.env_networks({"P": " "}, "P") == ()


def test_a_trusted_proxy_that_is_no_address_stops_the_start_naming_the_variable() -> None:
    with pytest.raises(config.ConfigurationError, match="HAVEN_TRUSTED_PROXIES"):
        config.env_networks({"HAVEN_TRUSTED_PROXIES": "10.0.0.0/8, nginx"}, "HAVEN_TRUSTED_PROXIES")


async def _through(scope: dict[str, Any], trusted: tuple[Any, ...]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    await clientip.ClientAddressMiddleware(inner, trusted=trusted)(scope, None, None)
    return seen


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_http_and_websocket_scopes_get_the_same_address_and_lose_the_header(
    kind: str,
) -> None:
    scope = {
        "type": kind,
        "client": ["10.0.0.2", 51000],
        "headers": [
            (b"host", b"haven.example.org"),
            (b"x-forwarded-for", b"1.2.3.4, 203.0.113.9"),
        ],
    }
    seen = await _through(scope, networks("10.0.0.0/8"))
    assert seen["client"][0] == "203.0.113.9"
    # Nothing after this middleware can read the client-written part by mistake.
    assert all(name != b"x-forwarded-for" for name, _value in seen["headers"])
    assert scope["client"][0] == "10.0.0.2", "the caller's scope is not changed in place"


async def test_a_forged_header_from_an_untrusted_peer_changes_nothing() -> None:
    scope = {
        "type": "websocket",
        "client": ["198.51.100.1", 51000],
        "headers": [(b"x-forwarded-for", b"203.0.113.9")],
    }
    seen = await _through(scope, ())
    assert seen["client"][0] == "198.51.100.1"


# --- over the real server ------------------------------------------------------------------


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The embedded defaults (SQLite in its own folder, in-memory layer), whatever is set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HAVEN_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(HAVEN_VAR_DIR=str(var_dir), HAVEN_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def var_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated folder with one member, rose; each server starts from a copy."""
    var_dir = tmp_path_factory.mktemp("clientip")
    make = (
        "from groups.services import account_create; "
        f"account_create(username='rose', password={PASSWORD!r})"
    )
    for args in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", make]):
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=_env(var_dir),
            check=True,
            capture_output=True,
            timeout=180,
        )
    return var_dir


@pytest.fixture
def serve(var_template: Path, tmp_path: Path) -> Iterator[Any]:
    """Start `python -m project.serve` on a copy of the template; returns its port."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> int:
        var_dir = tmp_path / f"var{len(started)}"
        shutil.copytree(var_template, var_dir)
        port = free_port()
        log = var_dir / "daphne.log"
        command = [
            sys.executable,
            "-m",
            "project.serve",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            # As the README's production section said before issue 13.
            "--proxy-headers",
            "project.asgi:application",
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=_env(var_dir, **extra), stdout=out, stderr=out
            )
        started.append(proc)
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{tail(log)}")
            if port_open(port):
                return port
            time.sleep(0.05)
        raise RuntimeError(f"the server did not listen:\n{tail(log)}")

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def sign_in(port: int, password: str, forwarded_for: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token/",
        data=json.dumps({"username": "rose", "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


WRONG_TRIES = 12


def test_behind_a_trusted_proxy_a_new_forged_header_each_time_does_not_escape_the_lockout(
    serve: Any,
) -> None:
    port = serve(HAVEN_TRUSTED_PROXIES="127.0.0.1")
    answers = [
        sign_in(port, f"wrong password {n}", f"198.51.100.{n}, {REAL_CLIENT}")[1]["code"]
        for n in range(1, WRONG_TRIES + 1)
    ]
    status, body = sign_in(port, PASSWORD, f"198.51.100.99, {REAL_CLIENT}")

    assert (status, body.get("code")) == (429, "locked_out"), answers
    assert "token" not in body
    # Someone else behind the same proxy is not locked out with her.
    other = sign_in(port, PASSWORD, f"{REAL_CLIENT[:-2]}77")
    assert other[0] == 200, other


def test_without_trusted_proxies_the_header_is_ignored(serve: Any) -> None:
    port = serve()
    for n in range(1, WRONG_TRIES + 1):
        sign_in(port, f"wrong password {n}", f"198.51.100.{n}")
    status, body = sign_in(port, PASSWORD, "198.51.100.99")

    assert (status, body.get("code")) == (429, "locked_out")


def test_project_serve_drops_daphnes_proxy_headers_option() -> None:
    from project import serve

    argv = ["serve", "-b", "127.0.0.1", "--proxy-headers", "project.asgi:application"]
    assert serve.proxy_headers_argv(argv) == [
        "serve",
        "-b",
        "127.0.0.1",
        "project.asgi:application",
    ]
