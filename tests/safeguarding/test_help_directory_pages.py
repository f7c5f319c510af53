"""Issue 17: "Get help now" beside "Leave now" on every page, to a directory anyone can open
without signing in: crisis lines first, each service with what it offers, when it is open and
how to reach it; staff edit the entries in the admin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

from safeguarding.models import HelpSchedule, HelpService
from safeguarding.selectors import help_directory, opening_times
from safeguarding.services import directory_import
from tests.conftest import World
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "safeguarding" / "fixtures" / "demo_directory"
HEADER = re.compile(r'<header class="site-header">(.*?)</header>', re.S)


@pytest.fixture
def directory(db: None) -> None:
    directory_import(actor=None, paths=[DEMO])


def html_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def signed_in(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def test_every_page_has_get_help_now_beside_leave_now(world: World) -> None:
    room = make_room(world=world)
    member = signed_in(world, "member")
    pages = [
        (Client(), "/"),
        (Client(), "/signin/"),
        (Client(), "/about/"),
        (Client(), "/help/"),
        (member, "/groups/"),
        (member, f"/groups/{world.group_a.pk}/"),
        (member, f"/sessions/{room.session.pk}/room/"),
        (member, "/concerns/"),
        (member, "/settings/"),
    ]
    for client, url in pages:
        header = HEADER.search(html_of(client, url))
        assert header is not None, url
        assert re.search(
            r'<a class="get-help" id="get-help" href="/help/">Get help now</a>\s*'
            r'<button type="button" class="leave-now"',
            header.group(1),
        ), url


@pytest.mark.parametrize("persona", ["anonymous", "member", "facilitator"])
def test_the_help_page_answers_anyone_with_a_neutral_title(
    world: World, directory: None, persona: str
) -> None:
    client = Client() if persona == "anonymous" else signed_in(world, persona)

    html = html_of(client, "/help/")

    assert re.search(r"<title>Get help \N{EN DASH} Haven</title>", html)
    assert "Riverside Women&#x27;s Crisis Line (demo)" in html
    assert "National Ugly Mugs" in html


def test_the_help_page_takes_no_posts(db: None) -> None:
    assert Client().post("/help/").status_code == 405


def test_crisis_lines_come_first_and_each_service_says_how_to_reach_it(directory: None) -> None:
    html = html_of(Client(), "/help/")

    headings = re.findall(r'<h2 id="help-[a-z_]+-title">([^<]+)</h2>', html)
    assert headings == [
        "Crisis lines",
        "Sexual violence",
        "Domestic abuse",
        "Staying safe at work",
        "Health",
        "Legal help",
    ]
    assert '<a class="help-call" href="tel:08081570123">Call 0808 157 0123</a>' in html
    assert "Free, 24 hours" in html
    assert "Monday to Friday: 10:00 to 20:00" in html
    assert (
        '<a href="https://nationaluglymugs.org" rel="noopener noreferrer">nationaluglymugs.org</a>'
        in html
    )
    # Like About, the page leaves itself out of the history (trail.js).
    assert 'data-trail="replace"' in html


def test_the_danger_line_comes_from_the_operators_urgent_help(directory: None) -> None:
    html = html_of(Client(), "/help/")
    assert "If you are in danger now, call:" in html
    assert '<a href="tel:999">999</a>' in html

    urgent = [{"label": "Garda", "contact": "112", "href": "tel:112"}]
    with override_settings(HAVEN_URGENT_HELP=urgent):
        html = html_of(Client(), "/help/")
    assert 'Garda: <a href="tel:112">112</a>' in html
    assert "tel:999" not in html


def test_an_inactive_service_is_not_listed(directory: None) -> None:
    HelpService.objects.filter(hsds_id="demo-legal").update(status="inactive")

    html = html_of(Client(), "/help/")

    assert "Lantern Legal Advice Line" not in html
    assert "Legal help" not in html


def test_the_directory_reads_in_a_fixed_number_of_queries(
    directory: None, django_assert_max_num_queries: object
) -> None:
    with django_assert_max_num_queries(5):  # type: ignore[operator]
        groups = help_directory()
        [phone for group in groups for s in group.services for phone in s.phones.all()]


def test_without_a_directory_the_page_says_whom_to_ask(db: None) -> None:
    assert "The list of services is not ready yet." in html_of(Client(), "/help/")


def test_opening_times_join_days_in_a_row_with_the_same_hours() -> None:
    from datetime import time

    rows = [
        HelpSchedule(weekday=day, opens_at=time(9), closes_at=time(17)) for day in (1, 2, 3)
    ] + [
        HelpSchedule(weekday=5, opens_at=time(9), closes_at=time(17)),
        HelpSchedule(weekday=6, description="By appointment"),
        HelpSchedule(description="Closed on bank holidays"),
    ]

    assert opening_times(rows) == [
        "Closed on bank holidays",
        "Monday to Wednesday: 09:00 to 17:00",
        "Friday: 09:00 to 17:00",
        "Saturday: By appointment",
    ]


def test_staying_safe_online_links_to_get_help(db: None) -> None:
    html = html_of(Client(), "/staying-safe/")
    main = html.split('<main id="main"', 1)[1]
    assert 'href="/help/"' in main


def test_staff_can_open_the_directory_in_the_admin(world: World, directory: None) -> None:
    admin = signed_in(world, "admin")
    service = HelpService.objects.get(hsds_id="demo-crisis-line")
    pages = [
        "/staff/admin/safeguarding/helpservice/",
        f"/staff/admin/safeguarding/helpservice/{service.pk}/change/",
        "/staff/admin/safeguarding/helpservice/add/",
        "/staff/admin/safeguarding/helporganization/",
        f"/staff/admin/safeguarding/helporganization/{service.organization_id}/change/",
    ]
    for url in pages:
        html = html_of(admin, url)
        assert "Haven" in html or "Django" in html, url
    change = html_of(admin, pages[1])
    assert "0808 157 0123" in change and "24 hours, every day" in change


def test_a_member_cannot_open_the_directory_admin(world: World, directory: None) -> None:
    response = signed_in(world, "member").get("/staff/admin/safeguarding/helpservice/")
    assert response.status_code == 302


def test_the_directory_api_lists_active_services_with_phones_and_times_to_anyone(
    directory: None,
) -> None:
    HelpService.objects.filter(hsds_id="demo-legal").update(status="inactive")

    response = Client().get("/api/v1/help/services/")

    assert response.status_code == 200
    rows = {row["hsds_id"]: row for row in response.json()["results"]}
    assert "demo-legal" not in rows and len(rows) == 5
    crisis = rows["demo-crisis-line"]
    assert crisis["category"] == "crisis_line"
    assert crisis["phones"] == [{"number": "0808 157 0123", "description": "Free, 24 hours"}]
    assert crisis["opening_times"] == ["24 hours, every day"]
    assert crisis["organization"]["hsds_id"] == "demo-riverside"
    weekdays = rows["demo-sexual-violence"]["schedules"]
    assert weekdays[0] == {
        "weekday": 1,
        "opens_at": "10:00",
        "closes_at": "20:00",
        "description": "",
    }
    assert Client().post("/api/v1/help/services/").status_code == 405
