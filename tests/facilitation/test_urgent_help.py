"""The organisation's urgent help (issue 15): "I'm not safe right now" shows it at once, so the
operator's list is checked at start-up and the room page carries it before its socket opens."""

import html
import json
import re

import pytest
from django.test import Client as BrowserClient
from django.test import override_settings

from project import config
from tests.facilitation.room import make_room

HELP = [
    {"label": "Local crisis line", "contact": "0800 000 000", "href": "tel:0800000000"},
    {"label": "Text us", "contact": "07000 000000"},
]


def test_unset_or_blank_gives_emergency_services():
    for env in ({}, {"HAVEN_URGENT_HELP": "  "}):
        assert config.env_urgent_help(env, "HAVEN_URGENT_HELP") == [
            {"label": "Emergency services", "contact": "999", "href": "tel:999"}
        ]


def test_a_list_of_labels_contacts_and_links_is_read_as_written():
    env = {"HAVEN_URGENT_HELP": json.dumps(HELP)}
    assert config.env_urgent_help(env, "HAVEN_URGENT_HELP") == HELP


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        "[]",
        '["999"]',
        '[{"label": "Help"}]',
        '[{"label": "", "contact": "999"}]',
        '[{"label": "Help", "contact": 999}]',
        '[{"label": "Help", "contact": "999", "colour": "red"}]',
        '[{"label": "Help", "contact": "999", "href": "javascript:alert(1)"}]',
        json.dumps([{"label": "x" * 200, "contact": "999"}]),
    ],
)
def test_anything_else_refuses_to_start_naming_the_variable(raw):
    with pytest.raises(config.ConfigurationError, match=r"^HAVEN_URGENT_HELP"):
        config.env_urgent_help({"HAVEN_URGENT_HELP": raw}, "HAVEN_URGENT_HELP")


@pytest.mark.django_db
@override_settings(HAVEN_URGENT_HELP=HELP)
def test_the_room_page_carries_the_urgent_help():
    room = make_room()
    browser = BrowserClient()
    browser.force_login(room.world.users["member"])

    page = browser.get(f"/sessions/{room.session.pk}/room/")

    found = re.search(r'data-config="([^"]*)"', page.content.decode())
    assert json.loads(html.unescape(found.group(1)))["urgent_help"] == HELP
