"""HTTP as a browser sees it: the landing page, the API docs, security headers, 404s."""

from __future__ import annotations

import re

import pytest
from django.test import Client

EXTERNAL_URL = re.compile(r"""(?:https?:)?//([^/\s"'<>)]+)""", re.IGNORECASE)
SCRIPT_SRC = re.compile(r"""<script[^>]*\bsrc=["']([^"']+)["']""", re.IGNORECASE)
LINK_HREF = re.compile(r"""<link[^>]*\bhref=["']([^"']+)["']""", re.IGNORECASE)


@pytest.fixture
def browser(db: None) -> Client:
    return Client()


def foreign_hosts(text: str) -> set[str]:
    return {host for host in EXTERNAL_URL.findall(text) if host not in {"testserver"}}


def test_the_about_page_introduces_haven_and_links_the_api_docs(browser):
    # Issue 17: the front door stays neutral; About says what Haven is and links the docs.
    response = browser.get("/about/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Haven" in html
    assert 'href="/api/docs/"' in html


def test_the_landing_page_loads_nothing_from_other_hosts(browser):
    html = browser.get("/").content.decode()

    for src in SCRIPT_SRC.findall(html) + LINK_HREF.findall(html):
        assert src.startswith("/static/"), src


def test_the_api_docs_answer_and_load_nothing_from_other_hosts(browser):
    response = browser.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert foreign_hosts(html) == set()
    scripts = SCRIPT_SRC.findall(html)
    assert scripts
    for src in scripts:
        # The Swagger UI bundles are served from /static/; its start-up script by the docs view.
        assert src.startswith(("/static/", "/api/docs/")), src
        assert not src.startswith("//")
    assert any(src.startswith("/static/") and "swagger-ui" in src for src in scripts)
    for href in LINK_HREF.findall(html):
        assert href.startswith("/static/"), href


def test_the_api_docs_start_up_script_points_at_this_hosts_schema(browser):
    html = browser.get("/api/docs/").content.decode()
    own = [src for src in SCRIPT_SRC.findall(html) if not src.startswith("/static/")]

    for src in own:
        script = browser.get(src.replace("&amp;", "&"))
        assert script.status_code == 200
        text = script.content.decode()
        assert foreign_hosts(text) == set()
        assert "/api/schema/" in text


def test_the_api_schema_answers(browser):
    response = browser.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/groups/" in response.content


@pytest.mark.parametrize(
    "path", ["/", "/api/docs/", "/api/v1/me/", "/api/v1/nothing-here/", "/no-such-page/"]
)
def test_every_response_carries_the_security_headers(browser, path):
    response = browser.get(path)

    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def test_an_authenticated_api_answer_is_not_cached_either(world):
    response = world.client("member").get("/api/v1/me/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_an_unknown_api_url_is_a_json_not_found(browser):
    response = browser.get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "not_found"
    assert set(body) == {"code", "message", "extra"}


def test_an_unknown_page_is_an_html_not_found(browser):
    response = browser.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Haven" in response.content
