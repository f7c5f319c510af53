"""Bad input at the HTTP edge gets a clear 400, never a 500 with a traceback (issue 13)."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/token/", "/api/v1/invites/abcdefgh/redeem/", "/api/v1/concerns/"]
)
def test_json_nested_too_deep_is_a_400_and_logs_no_traceback(world, path, caplog):
    client = world.client("member") if path.endswith("concerns/") else APIClient()

    with caplog.at_level(logging.WARNING):
        response = client.post(path, DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert not [r for r in caplog.records if r.exc_info]


# --- the server's access log ------------------------------------------------------------------

SECRET_CODE = "INVITE-CANARY-93b1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_and_ask(*extra: str) -> str:
    """Run `python -m project.serve`, ask for an invite URL with a code and a query string,
    stop it; return everything it wrote."""
    port = free_port()
    command = [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*command, *extra, "project.asgi:application"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    answered = False
    try:
        url = f"http://127.0.0.1:{port}/api/v1/invites/{SECRET_CODE}/redeem/?code={SECRET_CODE}"
        # Bounded: up to 60 s for the server to start on a loaded machine.
        for _ in range(600):
            try:
                with urllib.request.urlopen(url, timeout=2):
                    pass
                answered = True
                break
            except urllib.error.HTTPError:
                answered = True
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate(timeout=20)
    assert answered, "the server never answered: " + output[-2000:]
    return output


def test_the_server_writes_no_access_log_unless_asked():
    output = serve_and_ask()

    assert SECRET_CODE not in output
    assert '"GET /api/v1/invites/' not in output, "no access-log line at all"


def test_an_access_log_asked_for_never_holds_an_invite_code_or_a_query():
    output = serve_and_ask("--access-log", "-")

    assert "/api/v1/invites/[redacted]/redeem/" in output
    assert SECRET_CODE not in output
