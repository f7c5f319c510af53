"""The organisation's name and contact line, "environment or admin" (issue 17): an admin sets
them in the Django admin, field by field over the environment's; a blank field keeps the
environment's; one row at most, never deleted; a line break is refused; the front door, About
and the referral pack read them through one function."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from project.models import Organisation
from project.organisation import organisation_words
from tests.conftest import World

pytestmark = pytest.mark.django_db

ADMIN_URL = "/staff/admin/project/organisation/"


def admin_browser(world: World) -> Client:
    browser = Client()
    browser.force_login(world.users["admin"])
    return browser


def page(url: str) -> str:
    return Client().get(url).content.decode()


@override_settings(HAVEN_ORGANISATION_NAME="Env Project", HAVEN_ORGANISATION_CONTACT="0800 111")
def test_without_a_row_the_environment_speaks() -> None:
    assert organisation_words().name == "Env Project"
    assert organisation_words().contact == "0800 111"
    assert "Peer support groups run by Env Project." in page("/")


@override_settings(HAVEN_ORGANISATION_NAME="Env Project", HAVEN_ORGANISATION_CONTACT="0800 111")
def test_an_admin_sets_the_name_and_the_environment_keeps_the_blank_contact(world: World) -> None:
    browser = admin_browser(world)

    answer = browser.post(f"{ADMIN_URL}add/", {"name": "Riverside <Project>", "contact": ""})

    assert answer.status_code == 302
    assert Organisation.objects.get().pk == Organisation.SINGLE
    for url in ("/", "/about/"):
        html = page(url)
        assert "Riverside &lt;Project&gt;" in html and "Env Project" not in html, url
        assert "Contact: 0800 111" in html, url


def test_an_admin_changes_the_words_and_the_next_page_shows_them(world: World) -> None:
    browser = admin_browser(world)
    browser.post(f"{ADMIN_URL}add/", {"name": "Riverside", "contact": "0800 000 0000"})

    answer = browser.post(f"{ADMIN_URL}1/change/", {"name": "Lakeside", "contact": "0800 222"})

    assert answer.status_code == 302
    html = page("/about/")
    assert "Lakeside" in html and "Riverside" not in html
    assert "Contact: 0800 222" in html


def test_a_line_break_is_refused_and_nothing_is_saved(world: World) -> None:
    browser = admin_browser(world)

    answer = browser.post(f"{ADMIN_URL}add/", {"name": "Riverside\nProject", "contact": ""})

    assert answer.status_code == 200
    assert "Use one line of plain text" in answer.content.decode()
    assert not Organisation.objects.exists()


def test_there_is_one_row_at_most_and_it_cannot_be_deleted(world: World) -> None:
    browser = admin_browser(world)
    browser.post(f"{ADMIN_URL}add/", {"name": "Riverside", "contact": ""})

    second = browser.post(f"{ADMIN_URL}add/", {"name": "Another", "contact": ""})
    delete = browser.post(f"{ADMIN_URL}1/delete/", {"post": "yes"})

    assert second.status_code == 403
    assert delete.status_code == 403
    assert list(Organisation.objects.values_list("name", flat=True)) == ["Riverside"]


def test_nobody_but_an_admin_reaches_the_organisation_in_the_admin(world: World) -> None:
    for persona in ("member", "facilitator", "safeguarding_lead"):
        browser = Client()
        browser.force_login(world.users[persona])
        answer = browser.get(ADMIN_URL)
        assert answer.status_code == 302 and "/login/" in answer["Location"], persona


def test_the_front_door_reads_the_organisation_once_per_page(
    world: World, django_assert_num_queries
) -> None:
    Organisation.objects.create(name="Riverside", contact="0800 000 0000")
    with django_assert_num_queries(1):
        html = page("/")
    assert "Riverside" in html and "0800 000 0000" in html


def test_the_admin_pages_narrow_the_referrer_so_their_own_forms_pass_the_csrf_check(
    world: World,
) -> None:
    html = admin_browser(world).get(f"{ADMIN_URL}add/").content.decode()

    head = html.split("</head>", 1)[0]
    assert '<meta name="referrer" content="same-origin">' in head
