"""Choosing a language (issue 18): the browser's Accept-Language is the first guess, a choice
on every page in each language's own name, kept in this browser when signed out and on her
account when signed in (applied on every request and on a new device), never in a URL; the
page's `lang`, the JavaScript catalogue, dates and the live room follow it."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format

from groups.models import User
from project import languages
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

OWN_NAMES = {"en": "English", "es": "Español", "pt-br": "Português (Brasil)", "ro": "Română"}


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', page)
    assert found
    return found.group(1)


def signed_in(world: World, persona: str, **headers: str) -> Client:
    browser = Client(**headers)
    browser.force_login(world.users[persona])
    return browser


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("ro-RO,ro;q=0.9,en;q=0.5", "ro"),
        ("pt-BR,pt;q=0.9", "pt-br"),
        ("pt", "pt-br"),
        ("de-DE,es;q=0.8", "es"),
        ("de-DE,fr;q=0.8", "en"),
        ("", "en"),
    ],
)
def test_before_any_choice_the_browser_language_is_the_first_guess(accept, expected):
    page = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/")

    assert page.status_code == 200
    assert html_lang(page.content.decode()) == expected


def test_every_page_offers_each_language_in_its_own_name_and_marks_the_one_in_use():
    page = Client(HTTP_ACCEPT_LANGUAGE="es").get("/signin/").content.decode()

    form = page[page.index('action="/language/"') :]
    form = form[: form.index("</form>")]
    assert '<strong lang="es" aria-current="true">Español</strong>' in form
    for code, name in OWN_NAMES.items():
        if code != "es":
            assert f'name="language" value="{code}" lang="{code}">{name}</button>' in form
    assert 'name="next" value="/signin/"' in form


def test_a_visitor_choice_is_kept_in_this_browser_and_never_in_the_url():
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")

    chosen = browser.post("/language/", {"language": "ro", "next": "/signin/"})
    page = browser.get("/signin/")

    assert chosen.status_code == 302 and chosen["Location"] == "/signin/"
    cookie = chosen.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "ro" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert html_lang(page.content.decode()) == "ro"
    assert "ro" not in chosen["Location"]


@pytest.mark.parametrize("bad", ["de", "", "ro'; x", "EN-XX"])
def test_a_language_not_in_the_list_is_refused_and_nothing_is_kept(world, bad):
    browser = signed_in(world, "member")

    answer = browser.post("/language/", {"language": bad, "next": "/groups/"})

    assert answer.status_code == 400
    assert settings.LANGUAGE_COOKIE_NAME not in answer.cookies
    assert User.objects.get(pk=world.users["member"].pk).language == ""


def test_a_choice_without_a_language_is_refused():
    answer = Client().post("/language/", {"next": "/"})

    assert answer.status_code == 400


def test_the_way_back_never_leaves_this_site():
    answer = Client().post("/language/", {"language": "es", "next": "https://example.org/x"})

    assert answer.status_code == 302 and answer["Location"] == "/"


def test_choosing_needs_a_post():
    assert Client().get("/language/?language=es").status_code == 405


def test_her_choice_is_kept_on_her_account_and_follows_her_to_a_new_device(world):
    signed_in(world, "member").post("/language/", {"language": "pt-br", "next": "/groups/"})

    elsewhere = signed_in(world, "member", HTTP_ACCEPT_LANGUAGE="ro,en;q=0.5")
    page = elsewhere.get("/groups/")

    assert User.objects.get(pk=world.users["member"].pk).language == "pt-br"
    assert html_lang(page.content.decode()) == "pt-br"
    # Someone who has not chosen still gets her browser's guess.
    other = signed_in(world, "member2", HTTP_ACCEPT_LANGUAGE="ro").get("/groups/")
    assert html_lang(other.content.decode()) == "ro"


def test_signing_out_returns_the_shared_device_to_the_browser_guess(world):
    browser = signed_in(world, "member", HTTP_ACCEPT_LANGUAGE="en")
    browser.post("/language/", {"language": "ro", "next": "/groups/"})
    assert html_lang(browser.get("/groups/").content.decode()) == "ro"

    signed_out = browser.post("/signout/")

    assert signed_out.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""

    assert html_lang(browser.get("/").content.decode()) == "en"


def test_the_javascript_catalogue_follows_her_choice(world):
    browser = signed_in(world, "member", HTTP_ACCEPT_LANGUAGE="en")
    browser.post("/language/", {"language": "ro", "next": "/"})

    script = browser.get("/jsi18n/").content.decode()

    # Its date formats are Romanian ones (English writes "N j, Y").
    assert '"DATE_FORMAT": "j F Y"' in script


def test_dates_on_her_group_page_are_written_in_her_language(world):
    room = make_room(status="scheduled", world=world)
    browser = signed_in(world, "member")
    browser.post("/language/", {"language": "ro", "next": "/"})

    page = browser.get(f"/groups/{world.group_a.pk}/").content.decode()

    with translation.override("ro"):
        romanian = date_format(room.session.starts_at, "D")
    with translation.override("en"):
        english = date_format(room.session.starts_at, "D")
    assert romanian != english
    assert f">{romanian} " in page and f">{english} " not in page


def test_a_connection_reads_her_account_then_this_browser_then_accept_language():
    cookie = (b"cookie", f"csrftoken=x; {settings.LANGUAGE_COOKIE_NAME}=es".encode())
    accept = (b"accept-language", b"ro-RO,ro;q=0.9")

    assert languages.from_headers([cookie, accept], chosen="pt-br") == "pt-br"
    assert languages.from_headers([cookie, accept], chosen="") == "es"
    assert languages.from_headers([accept]) == "ro"
    assert languages.from_headers([(b"cookie", b"django_language=xx"), accept]) == "ro"
    assert languages.from_headers([(b"cookie", b'bad"cookie'), (b"accept-language", b"*")]) == (
        "en"
    )
