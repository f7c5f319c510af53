"""The plan page (issue 16): saving the plan in the page keeps each item's content warnings,
and the form shows which ones each item has."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

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


def room_config(world: World, persona: str, session_id: int) -> tuple[dict[str, Any], str]:
    """The room page's `data-config` as her browser gets it, and the whole page."""
    browser = Client()
    browser.force_login(world.users[persona])
    page = browser.get(f"/sessions/{session_id}/room/").content.decode()
    found = re.search(r'data-config="([^"]*)"', page)
    assert found is not None
    return json.loads(html.unescape(found.group(1))), page


def test_the_room_gives_hosts_the_plan_with_times_and_notes_and_members_nothing_of_it(world):
    room = make_room(world=world)
    session_services.plan_replace(
        actor=world.users["facilitator"],
        session=room.session,
        items=[
            {"title": "Arrive", "kind": "check_in", "minutes": 10, "notes": "Light the candle"},
            {
                "title": "The courts",
                "kind": "topic",
                "minutes": 30,
                "notes": "Watch Rose; she has a hearing soon",
                "content_warnings": ["police_courts"],
            },
        ],
    )
    start = room.session.starts_at

    for persona in ("facilitator", "peer_mentor"):  # the peer mentor co-hosts it
        config, _page = room_config(world, persona, room.session.pk)
        plan = config["plan"]
        assert [(i["title"], i["minutes"], i["notes"]) for i in plan] == [
            ("Arrive", 10, "Light the candle"),
            ("The courts", 30, "Watch Rose; she has a hearing soon"),
        ]
        assert plan[1]["content_warnings"] == ["police_courts"]
        starts = [datetime.fromisoformat(i["starts_at"].replace("Z", "+00:00")) for i in plan]
        assert starts[0] == start.replace(microsecond=starts[0].microsecond)
        assert starts[1] - starts[0] == timedelta(minutes=10)
    for persona in ("member", "member2"):
        config, page = room_config(world, persona, room.session.pk)
        assert config["plan"] is None
        assert "hearing soon" not in page and "Light the candle" not in page
