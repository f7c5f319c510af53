"""The plan page (issue 16): saving the plan in the page keeps each item's content warnings,
and the form shows which ones each item has."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from facilitation import services as session_services
from facilitation.models import PlanItem
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


class FormFields(HTMLParser):
    """What a browser would post for the page's plan form, as it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a["value"]))
            else:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a["value"]))
            self._select = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            # Nothing selected: the browser posts the first option.
            self.fields.append((self._select, "check_in"))
            self._select = None


def facilitator(world: World) -> Client:
    browser = Client()
    browser.force_login(world.users["facilitator"])
    return browser


def as_posted(html: str) -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed(html.split('class="plan"')[1].split("</form>")[0])
    posted: dict[str, list[str]] = {}
    for name, value in parser.fields:
        posted.setdefault(name, []).append(value)
    return posted


def test_saving_the_plan_page_unchanged_keeps_each_items_content_warnings(world):
    room = make_room(world=world, status="open")
    session_services.plan_replace(
        actor=world.users["facilitator"],
        session=room.session,
        items=[
            {"title": "Arrive", "kind": "check_in", "minutes": 10},
            {
                "title": "Dealing with the courts",
                "kind": "topic",
                "minutes": 30,
                "notes": "Go gently",
                "content_warnings": ["police_courts", "child_removal"],
            },
        ],
    )
    url = f"/sessions/{room.session.pk}/plan/"
    browser = facilitator(world)
    page = browser.get(url).content.decode()
    posted = as_posted(page)
    assert posted["cw-1"] == ["child_removal", "police_courts"]
    assert "cw-0" not in posted

    saved = browser.post(url, posted)

    assert saved.status_code == 302
    items = list(PlanItem.objects.filter(session=room.session).order_by("position"))
    assert [i.title for i in items] == ["Arrive", "Dealing with the courts"]
    assert items[0].content_warnings == []
    assert sorted(items[1].content_warnings) == ["child_removal", "police_courts"]
    assert items[1].notes == "Go gently"


def test_ticking_a_warning_for_a_new_item_in_the_page_stores_it_with_that_item(world):
    room = make_room(world=world, status="open")
    url = f"/sessions/{room.session.pk}/plan/"
    browser = facilitator(world)
    posted = as_posted(browser.get(url).content.decode())
    posted["title"][0] = "Breathing"
    posted["title"][2] = "Losing someone"
    posted["kind"][2] = "topic"
    posted["cw-2"] = ["death_grief"]

    assert browser.post(url, posted).status_code == 302

    items = list(PlanItem.objects.filter(session=room.session).order_by("position"))
    assert [(i.title, i.content_warnings) for i in items] == [
        ("Breathing", []),
        ("Losing someone", ["death_grief"]),
    ]
    again = browser.get(url).content.decode()
    assert as_posted(again)["cw-1"] == ["death_grief"]


def test_a_refused_plan_keeps_what_she_wrote_and_stores_nothing(world):
    room = make_room(world=world, status="open")
    url = f"/sessions/{room.session.pk}/plan/"
    browser = facilitator(world)
    posted = as_posted(browser.get(url).content.decode())
    posted["title"][0] = "Talking about the courts"
    posted["cw-0"] = ["police_courts", "no_such_category"]

    refused = browser.post(url, posted)

    assert refused.status_code == 400
    assert PlanItem.objects.filter(session=room.session).count() == 0
    text = refused.content.decode()
    assert 'value="Talking about the courts"' in text
    assert "Unknown content-warning categories." in text
