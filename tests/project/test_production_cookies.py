"""Security catalogue rows 25 and ASVS 3.3/3.4/7.2.4, under the production settings.

A fresh process imports Haven the way production runs it (DJANGO_DEBUG=0, HTTPS on), on its own
SQLite database in a temporary folder, signs a member in through the sign-in page over HTTPS
and prints what the browser would get: the headers of a signed-in page and every cookie's
name and flags. The test reads those; nothing here trusts `check --deploy` alone.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

# its module-scoped production server is started once: the whole file on one xdist worker
pytestmark = pytest.mark.xdist_group("production_cookies")

ROOT = Path(__file__).resolve().parents[2]
HOST = "haven.example.org"

SCRIPT = r"""
import json
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("collectstatic", "--noinput", verbosity=0)
from django.test import Client
from groups.models import User

User.objects.create_user(username="rose-test", password="a long enough password 42")
client = Client(HTTP_HOST="haven.example.org")
client.get("/signin/", secure=True)
before = client.cookies.get("__Host-sessionid")
answer = client.post(
    "/signin/",
    {"username": "rose-test", "password": "a long enough password 42"},
    secure=True,
)
cookies = {
    name: {
        "secure": bool(morsel["secure"]),
        "httponly": bool(morsel["httponly"]),
        "samesite": morsel["samesite"],
        "path": morsel["path"],
        "domain": morsel["domain"],
        "max-age": morsel["max-age"],
        "expires": morsel["expires"],
    }
    for name, morsel in client.cookies.items()
}
page = client.get("/groups/", secure=True)
plain = Client(HTTP_HOST="haven.example.org").get("/signin/")
print(json.dumps({
    "signin_status": answer.status_code,
    "key_before": before.value if before else None,
    "key_after": client.cookies["__Host-sessionid"].value,
    "cookies": cookies,
    "page_status": page.status_code,
    "headers": {k.lower(): v for k, v in page.headers.items()},
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location"),
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    var = tmp_path_factory.mktemp("production") / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "HAVEN_VAR_DIR": str(var),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)[:50],
            "DJANGO_ALLOWED_HOSTS": HOST,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode("ascii"),
        }
    )
    env.pop("HAVEN_HTTPS", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_signing_in_gives_a_new_session_key(production: dict[str, Any]) -> None:
    assert production["signin_status"] == 302
    assert production["key_after"]
    assert production["key_after"] != production["key_before"]


def test_both_cookies_are_host_only_secure_and_same_site(production: dict[str, Any]) -> None:
    cookies = production["cookies"]
    assert set(cookies) == {"__Host-sessionid", "__Host-csrftoken"}
    for flags in cookies.values():
        assert flags["secure"] is True
        assert flags["samesite"] == "Lax"
        assert flags["path"] == "/"
        assert flags["domain"] == ""  # a __Host- cookie names no domain
        # Session-length: gone when the browser closes (no Max-Age, no Expires).
        assert flags["max-age"] == ""
        assert flags["expires"] == ""
    assert cookies["__Host-sessionid"]["httponly"] is True


def test_a_signed_in_page_carries_hsts_and_the_whole_policy(production: dict[str, Any]) -> None:
    assert production["page_status"] == 200
    headers = production["headers"]
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    policy = {
        part.split()[0]: part.split()[1:]
        for part in headers["content-security-policy"].split(";")
        if part.strip()
    }
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "no-store" in headers["cache-control"]


def test_plain_http_is_sent_to_https(production: dict[str, Any]) -> None:
    assert production["plain_status"] == 301
    assert production["plain_location"] == f"https://{HOST}/signin/"
