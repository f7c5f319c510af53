"""Each shipped language is whole (issue 18): every message translated and nothing fuzzy, the
catalogue compiles, and the landing, sign-in, group, room and concern pages read in it, with no
English left of a marked string.

These fail until the translators have finished a language: that is the point of them.
"""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils.translation import trans_real

from safeguarding import services as safeguarding_services
from tests.catalogues import DOMAINS, SHIPPED, Entry, po_path, read_po, statistics
from tests.conftest import World
from tests.facilitation.room import make_room

# its catalogues are compiled once: the whole file on one xdist worker
pytestmark = pytest.mark.xdist_group("translations")

CATALOGUES = [(code, domain) for code in SHIPPED for domain in DOMAINS]
# The pages, and the template whose messages must show on each.
PAGES = ["landing", "signin", "group", "room", "concern"]
TEMPLATE = {page: f"frontend/templates/frontend/{page}.html" for page in PAGES}


@pytest.mark.parametrize(("code", "domain"), CATALOGUES)
def test_every_message_of_the_catalogue_is_translated_and_none_is_fuzzy(code, domain):
    counts = statistics(po_path(code, domain))

    assert counts["translated"] > 0
    assert counts["untranslated"] == 0, f"{code} {domain}: {counts}"
    assert counts["fuzzy"] == 0, f"{code} {domain}: {counts}"


@pytest.mark.parametrize(("code", "domain"), CATALOGUES)
def test_the_catalogue_compiles_with_its_formats_checked(code, domain, tmp_path: Path):
    done = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "out.mo"), str(po_path(code, domain))],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.mo").stat().st_size > 0


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> Iterator[None]:
    """The pages read the compiled catalogues, as `make` builds them; translations already
    loaded in this process are forgotten so the fresh ones are read."""
    call_command("compilemessages", ignore_patterns=[".venv", "node_modules", "var"], verbosity=0)
    trans_real._translations = {}
    trans_real._default = None
    yield
    trans_real._translations = {}


def visible_text(page: str) -> str:
    """What the page says: its text and its attribute values, tags and scripts taken away."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    attributes = " ".join(re.findall(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"', page))
    text = re.sub(r"<[^>]+>", " ", page) + " " + attributes
    return " ".join(html.unescape(text).split())


def one_line(text: str) -> str:
    return " ".join(text.split())


def english_left(text: str, entries: list[Entry]) -> list[str]:
    """Marked English (two words or more, no placeholder) shown where its translation differs."""
    return sorted(
        entry.msgid
        for entry in entries
        if not entry.plural
        and entry.msgstr
        and one_line(entry.msgstr) != one_line(entry.msgid)
        and len(entry.msgid.split()) >= 2
        and "%" not in entry.msgid
        and "{" not in entry.msgid
        and one_line(entry.msgid) in text
    )


def open_page(world: World, page: str, code: str) -> str:
    browser = Client()
    persona = {"concern": "member", "room": "member", "group": "member"}.get(page)
    if persona:
        browser.force_login(world.users[persona])
    chosen = browser.post("/language/", {"language": code, "next": "/"})
    assert chosen.status_code == 302
    if page == "landing":
        path = "/"
    elif page == "signin":
        path = "/signin/"
    elif page == "group":
        path = f"/groups/{world.group_a.pk}/"
    elif page == "room":
        path = f"/sessions/{make_room(world=world).session.pk}/room/"
    else:
        concern = safeguarding_services.concern_raise(
            actor=world.users["member"],
            group_id=world.group_a.pk,
            category="my_wellbeing",
            body="Words she wrote herself, never translated.",
        )
        path = f"/concerns/{concern.pk}/"
    answer = browser.get(path)
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("code", SHIPPED)
def test_the_page_reads_in_the_language_with_no_english_left(world, code, page):
    entries = read_po(po_path(code, "django"))
    shown = open_page(world, page, code)
    text = visible_text(shown)
    on_this_page = [
        one_line(entry.msgstr)
        for entry in entries
        if TEMPLATE[page] in entry.references
        and not entry.plural
        and entry.msgstr
        and "%" not in entry.msgid
        and one_line(entry.msgstr) != one_line(entry.msgid)
    ]

    assert f'<html lang="{code}">' in shown
    assert on_this_page, f"no translated message of {TEMPLATE[page]} in the {code} catalogue"
    assert any(phrase in text for phrase in on_this_page)
    assert english_left(text, entries) == []
