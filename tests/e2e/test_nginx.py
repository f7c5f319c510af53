"""Debian's nginx with the shipped site file (deploy/nginx/haven.conf) in front of two Daphne
processes on PostgreSQL and Redis, run as production runs them (DJANGO_DEBUG=0, collectstatic,
HAVEN_TRUSTED_PROXIES=127.0.0.1).

The site file is rendered for the test, never rewritten: its ports, certificate paths, static
root and log folder are replaced, each replacement checked to have happened, so a test of an
edited copy cannot pass for a test of the file that ships.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.e2e.conftest import (
    E2E,
    ROOT,
    Process,
    RoomClient,
    assert_everyone_has_the_log,
    close_all,
    free_port,
    run,
    spawn,
    tail,
    talk_through_a_kill,
)
from tests.facilitation.room import make_room

# its module-scoped nginx and two Daphnes are started once: the whole file on one xdist worker
pytestmark = pytest.mark.xdist_group("nginx")

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "haven.conf"
NEEDS_NGINX = pytest.mark.skipif(
    not (Path(NGINX).exists() and shutil.which("openssl")),
    reason="needs Debian's nginx and openssl (.ci/run installs nginx)",
)
# The address nginx is reached from in these tests, and the one that goes around it to Daphne:
# both on loopback, neither the trusted proxy 127.0.0.1.
VIA_PROXY = "127.0.0.2"
AROUND_PROXY = "127.0.0.3"
FORGED = "203.0.113.7"


def render_site(
    text: str,
    *,
    http_port: int,
    https_port: int,
    upstreams: list[int],
    static_root: Path,
    cert: Path,
    key: Path,
    log_dir: Path,
) -> str:
    """The shipped site with this test's ports and paths; every replacement must apply."""
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
    steps = [
        (r"(?m)^\s*listen \[::\]:\d+[^;]*;\n", ""),  # loopback IPv4 only here
        (r"\blisten 80;", f"listen 127.0.0.1:{http_port};"),
        (r"\blisten 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"(?m)(^\s*server 127\.0\.0\.1:\d+;\n)+", servers),
        (r"/etc/letsencrypt/live/haven\.example\.org/fullchain\.pem", str(cert)),
        (r"/etc/letsencrypt/live/haven\.example\.org/privkey\.pem", str(key)),
        (r"/var/lib/haven/static/", f"{static_root}/"),
        (r"/var/log/nginx/", f"{log_dir}/"),
    ]
    for pattern, replacement in steps:
        text, count = re.subn(pattern, replacement.replace("\\", "\\\\"), text)
        assert count, f"deploy/nginx/haven.conf no longer has {pattern!r}"
    return text


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl req)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def main_config(folder: Path, site: Path) -> Path:
    """nginx.conf around the site, as Debian's /etc/nginx/nginx.conf includes sites-enabled."""
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(
        f"{user}worker_processes 1;\n"
        "daemon off;\n"
        f"pid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    include {site};\n"
        "}\n"
    )
    return config


def world_readable_folder() -> Path:
    """A temporary folder nginx's worker (nobody, when the tests run as root) can read."""
    folder = Path(tempfile.mkdtemp(prefix="haven-nginx-"))
    folder.chmod(0o755)
    return folder


@NEEDS_NGINX
def test_nginx_accepts_the_shipped_site_file():
    folder = world_readable_folder()
    try:
        cert, key = make_certificate(folder)
        text = SITE.read_text()
        # Only what cannot exist on a test machine: the certificates and the log folder.
        for shipped, here in [
            ("/etc/letsencrypt/live/haven.example.org/fullchain.pem", cert),
            ("/etc/letsencrypt/live/haven.example.org/privkey.pem", key),
            ("/var/log/nginx/", f"{folder}/"),
        ]:
            assert shipped in text
            text = text.replace(shipped, str(here))
        site = folder / "haven.conf"
        site.write_text(text)
        checked = subprocess.run(
            [NGINX, "-t", "-p", f"{folder}/", "-e", str(folder / "error.log"),
             "-c", str(main_config(folder, site))],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


# --- nginx in front of two Daphne processes ---------------------------------------------------


@dataclass
class Site:
    nginx: Process
    daphnes: list[Process]
    static_root: Path
    tls: ssl.SSLContext

    @property
    def port(self) -> int:
        return self.nginx.port

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: dict | None = None,
        source: str = VIA_PROXY,
        port: int | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request from `source`: through nginx (HTTPS), or to `port` directly."""
        if port is None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.tls, timeout=10, source_address=(source, 0)
            )
        else:
            connection = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=10, source_address=(source, 0)
            )
        payload = json.dumps(body).encode() if body is not None else None
        sent = dict(headers or {})
        if payload is not None:
            sent["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def collected() -> Iterator[Path]:
    """HAVEN_VAR_DIR with collectstatic's output, as `manage.py collectstatic` leaves it."""
    var = world_readable_folder()
    env = dict(os.environ, HAVEN_VAR_DIR=str(var), DJANGO_DEBUG="0")
    env.setdefault("DJANGO_SECRET_KEY", "collectstatic-only")
    env.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    for path in [var, *var.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        yield var
    finally:
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture
def site(daphne, collected: Path) -> Iterator[Site]:
    a, b = daphne(
        "A",
        "B",
        env_extra={
            "DJANGO_DEBUG": "0",
            "HAVEN_VAR_DIR": str(collected),
            "HAVEN_TRUSTED_PROXIES": "127.0.0.1",
        },
    )
    folder = world_readable_folder()
    cert, key = make_certificate(folder)
    https_port = free_port()
    site_file = folder / "haven.conf"
    site_file.write_text(
        render_site(
            SITE.read_text(),
            http_port=free_port(),
            https_port=https_port,
            upstreams=[a.port, b.port],
            static_root=collected / "static",
            cert=cert,
            key=key,
            log_dir=folder,
        )
    )
    command = [
        NGINX, "-p", f"{folder}/", "-e", str(folder / "error.log"),
        "-c", str(main_config(folder, site_file)),
    ]  # fmt: skip
    nginx = spawn("nginx", command, port=https_port, env=dict(os.environ), logs=folder)
    tls = ssl.create_default_context(cafile=str(cert))
    try:
        nginx.wait_ready()
        yield Site(nginx=nginx, daphnes=[a, b], static_root=collected / "static", tls=tls)
    finally:
        nginx.stop()
        print(f"--- nginx error log ---\n{tail(folder / 'error.log', 40)}")
        shutil.rmtree(folder, ignore_errors=True)


def behind_nginx(test):
    """nginx, PostgreSQL and Redis: the marks of tests/e2e and NEEDS_NGINX."""
    for mark in (NEEDS_NGINX, *E2E):
        test = mark(test)
    return test


def member(room, persona: str, site: Site) -> RoomClient:
    return RoomClient(persona, room.world.tokens[persona], room.session.pk, tls=site.tls)


@behind_nginx
def test_through_nginx_a_page_its_static_files_a_rest_call_and_the_live_room_all_work(site):
    room = make_room()
    a = site.daphnes[0]

    status, headers, page = site.request("GET", "/")
    assert status == 200, page[:300]
    assert headers["Content-Type"].startswith("text/html")
    stylesheet = re.search(rb'href="(/static/frontend/haven\.[0-9a-f]+\.css)"', page)
    assert stylesheet, "the page links collectstatic's hashed stylesheet"
    status, headers, css = site.request("GET", stylesheet.group(1).decode())
    assert (status, headers["Content-Type"]) == (200, "text/css"), css[:200]

    # Static files come from nginx's folder, not from Daphne: a file that appears there after
    # Daphne started is served by nginx, while Daphne itself has never heard of it.
    (site.static_root / "only-nginx.txt").write_text("served by nginx\n")
    assert site.request("GET", "/static/only-nginx.txt")[::2] == (200, b"served by nginx\n")
    direct = site.request(
        "GET", "/static/only-nginx.txt", port=a.port, headers={"X-Forwarded-Proto": "https"}
    )
    assert direct[0] == 404

    token = room.world.tokens["member"]
    status, _, body = site.request(
        "GET", "/api/v1/groups/", headers={"Authorization": f"Token {token}"}
    )
    assert status == 200, body[:300]
    listed = json.loads(body)
    assert room.world.group_a.pk in [group["id"] for group in listed["results"]]

    async def scenario():
        rose, jade = member(room, "member", site), member(room, "member2", site)
        await rose.connect(site.port)
        await jade.connect(site.port)
        await asyncio.gather(rose.settled(), jade.settled())
        said = await rose.post("hello through nginx", ports=[site.port])
        await jade.wait_seq(said["seq"])
        await close_all([rose, jade])
        return said, jade

    said, jade = run(scenario(), timeout=30)

    assert said["type"] == "ack"
    assert said["message_id"] in jade.message_ids()


@behind_nginx
def test_a_websocket_through_nginx_resumes_on_the_other_process_when_one_is_killed(site):
    room = make_room()
    a, _b = site.daphnes
    per_member = 5

    async def scenario():
        everyone = [
            member(room, persona, site)
            for persona in ("facilitator", "member", "peer_mentor", "member2")
        ]
        # One after another: nginx's round robin puts two on each process.
        for client in everyone:
            await client.connect(site.port)
        await asyncio.gather(*(c.settled() for c in everyone))
        replies = await talk_through_a_kill(
            everyone, a, ports=[site.port], reconnect_to=[site.port], per_member=per_member
        )
        return everyone, replies

    everyone, replies = run(scenario(), timeout=60)

    assert not a.alive()
    assert site.nginx.alive()
    dropped = [c.name for c in everyone if 1006 in c.close_codes]
    assert len(dropped) == 2, {c.name: c.close_codes for c in everyone}
    assert all(r["type"] == "ack" for r in replies), replies
    assert len({r["message_id"] for r in replies}) == len(everyone) * per_member
    assert_everyone_has_the_log(everyone, room.session.pk)
    for client in everyone:
        ids = client.message_ids()
        for reply in replies:
            assert ids.count(reply["message_id"]) == 1, client.name


@behind_nginx
def test_x_forwarded_for_is_believed_from_nginx_and_ignored_from_anyone_else(site):
    from axes.models import AccessAttempt

    room = make_room()
    a = site.daphnes[0]
    username = room.world.users["member"].username
    wrong = {"username": username, "password": "not her password"}
    forged = {"X-Forwarded-For": FORGED}

    through = site.request("POST", "/api/v1/auth/token/", body=wrong, headers=forged)
    around = site.request(
        "POST",
        "/api/v1/auth/token/",
        body=wrong,
        headers={**forged, "X-Forwarded-Proto": "https"},
        source=AROUND_PROXY,
        port=a.port,
    )

    assert through[0] == around[0] == 400, (through, around)
    addresses = set(
        AccessAttempt.objects.filter(username=username).values_list("ip_address", flat=True)
    )
    # Through nginx: the address nginx saw (it replaced the forged header). Around it: the
    # direct peer, since 127.0.0.3 is no trusted proxy and its header counts for nothing.
    assert addresses == {VIA_PROXY, AROUND_PROXY}
