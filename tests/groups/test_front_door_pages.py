"""Issue 17, a neutral front door: only About says what Haven is for and who it is for; the
organisation's name and contact line come from the settings (checked at start-up); Staying
safe online and What to expect are one link away; "Who sees what" is written once, with the
operator's own text in place of the default when set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

from project import config
from tests.conftest import World
from tests.facilitation.room import make_room
from tests.project.test_settings import settings_of

pytestmark = pytest.mark.django_db

DASH_HAVEN = "\N{EN DASH} Haven"
# Words that say what Haven is for: About alone may show them.
PURPOSE = re.compile(r"sell or exchange|sex work|Ugly Mugs", re.IGNORECASE)
WHO_SEES_DEFAULT = "We will tell you first wherever we can."


def text_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def title_of(html: str) -> str:
    found = re.search(r"<title>([^<]*)</title>", html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def member(world: World) -> Client:
    client = Client()
    client.force_login(world.users["member"])
    return client


def test_the_front_door_names_only_the_service_and_offers_sign_in_and_join(db: None) -> None:
    html = text_of(Client(), "/")

    assert title_of(html) == "Haven"
    assert "Peer support groups run by a local support service." in html
    assert 'href="/signin/"' in html and 'href="/join/"' in html
    assert 'href="/about/"' in html and 'href="/staying-safe/"' in html
    assert not PURPOSE.search(html)
    assert "/api/docs/" not in html


def test_about_says_plainly_who_haven_is_for_and_links_the_rest(db: None) -> None:
    html = text_of(Client(), "/about/")

    assert title_of(html) == "About " + DASH_HAVEN
    assert "Haven is for women who sell or exchange sex." in html
    assert "National Ugly Mugs" in html
    for href in ("/signin/", "/join/", "/what-to-expect/", "/staying-safe/", "/api/docs/"):
        assert f'href="{href}"' in html, href
    # Its way on replaces About in the history (trail.js): Back never finds it again.
    assert re.search(r'href="/signin/" data-replace', html)


@override_settings(
    HAVEN_ORGANISATION_NAME="Riverside <Project>",
    HAVEN_ORGANISATION_CONTACT="0800 000 0000, weekdays 10 to 4",
)
def test_the_organisation_and_its_contact_line_show_on_the_front_door_and_about(db: None) -> None:
    for url in ("/", "/about/"):
        html = text_of(Client(), url)
        assert "Riverside &lt;Project&gt;" in html, url
        assert "<Project>" not in html, url
        assert "Contact: 0800 000 0000, weekdays 10 to 4" in html, url
    assert "Peer support groups run by Riverside &lt;Project&gt;." in text_of(Client(), "/")


def test_without_a_contact_line_the_pages_say_whom_to_ask(db: None) -> None:
    for url in ("/", "/about/"):
        assert "ask the person who gave you your invite code" in text_of(Client(), url), url


def test_no_page_but_about_says_what_haven_is_for(world: World, member: Client) -> None:
    room = make_room(world=world)
    anonymous = Client()
    pages = [
        (anonymous, "/"),
        (anonymous, "/signin/"),
        (anonymous, "/join/"),
        (anonymous, "/staying-safe/"),
        (anonymous, "/what-to-expect/"),
        (member, "/groups/"),
        (member, f"/groups/{world.group_a.pk}/"),
        (member, f"/sessions/{room.session.pk}/room/"),
        (member, "/concerns/"),
        (member, "/settings/"),
        (member, "/what-to-expect/"),
    ]
    for client, url in pages:
        html = text_of(client, url)
        assert not PURPOSE.search(html), url
    assert PURPOSE.search(text_of(anonymous, "/about/"))


def test_the_information_pages_have_neutral_titles_and_answer_anyone(member: Client) -> None:
    titles = {
        "/about/": "About " + DASH_HAVEN,
        "/staying-safe/": "Staying safe online " + DASH_HAVEN,
        "/what-to-expect/": "What to expect " + DASH_HAVEN,
    }
    for url, title in titles.items():
        for client in (Client(), member):
            assert title_of(text_of(client, url)) == title, url


def test_the_information_pages_take_no_posts(db: None) -> None:
    for url in ("/about/", "/staying-safe/", "/what-to-expect/"):
        assert Client().post(url).status_code == 405, url


def test_staying_safe_online_is_linked_from_the_front_door_sign_in_and_the_exit_tip(
    db: None,
) -> None:
    for url in ("/", "/signin/"):
        html = text_of(Client(), url)
        tip = re.search(
            r'<aside class="exit-tip" id="exit-tip" aria-label="[^"]+" hidden>(.*?)</aside>',
            html,
            re.S,
        )
        assert tip is not None, url
        assert "press Shift 3 times" in tip.group(1)
        assert 'href="/staying-safe/"' in tip.group(1)
        assert html.count('href="/staying-safe/"') == 2, url


def test_staying_safe_online_says_what_the_quick_exit_can_and_cannot_clear(db: None) -> None:
    html = text_of(Client(), "/staying-safe/")

    for heading in (
        "Use a private window",
        "Clear your history",
        "What the quick exit clears",
        "What the quick exit cannot clear",
    ):
        assert heading in html


def test_what_to_expect_covers_the_session_and_who_sees_what(db: None) -> None:
    html = text_of(Client(), "/what-to-expect/")

    for heading in (
        "Who is there",
        "How long",
        "Rounds and passing",
        "Content warnings",
        "Stepping out",
        "Leaving",
        "Nobody sees you typing",
        "The quick exit",
    ):
        assert f">{heading}</h2>" in html, heading
    assert '<h2 class="who-sees-title">Who sees what</h2>' in html
    assert WHO_SEES_DEFAULT in html


def test_the_join_page_and_a_members_group_page_link_what_to_expect(
    world: World, member: Client
) -> None:
    assert 'href="/what-to-expect/"' in text_of(Client(), "/join/")
    group = text_of(member, f"/groups/{world.group_a.pk}/")
    assert 'id="what-to-expect-link"' in group
    # A safeguarding lead sees the group without being in it: no link for her.
    lead = Client()
    lead.force_login(world.users["safeguarding_lead"])
    lead_page = lead.get(f"/groups/{world.group_a.pk}/")
    assert lead_page.status_code == 200
    assert 'id="what-to-expect-link"' not in lead_page.content.decode()


def test_who_sees_what_is_on_the_agreement_and_folded_in_the_concern_dialog(
    world: World, member: Client
) -> None:
    room = make_room(world=world)
    group = text_of(member, f"/groups/{world.group_a.pk}/")
    agreement = group[group.index('id="agreement"') :]
    assert WHO_SEES_DEFAULT in agreement
    assert "Peer mentors read it only if you tick" in agreement

    page = text_of(member, f"/sessions/{room.session.pk}/room/")
    dialog = page[page.index('id="concern-dialog"') :]
    dialog = dialog[: dialog.index("</dialog>")]
    assert '<details class="who-sees" id="who-sees-what">' in dialog
    assert WHO_SEES_DEFAULT in dialog


@override_settings(
    HAVEN_WHO_SEES_WHAT=[
        ["Our own words about who reads a concern."],
        ["- Our facilitators", "- Our lead <on call>"],
    ]
)
def test_the_operators_own_who_sees_what_replaces_the_default_everywhere(
    world: World, member: Client
) -> None:
    room = make_room(world=world)
    for url in (
        "/what-to-expect/",
        f"/groups/{world.group_a.pk}/",
        f"/sessions/{room.session.pk}/room/",
    ):
        html = text_of(member, url)
        assert "<p>Our own words about who reads a concern.</p>" in html, url
        assert "<ul><li>Our facilitators</li><li>Our lead &lt;on call&gt;</li></ul>" in html, url
        assert WHO_SEES_DEFAULT not in html, url


# --- the settings, checked at start-up ------------------------------------------------------


def test_an_organisation_line_is_trimmed_and_blank_means_the_default_wording() -> None:
    assert config.env_line({}, "X", maximum=10) == ""
    assert config.env_line({"X": "  Riverside  "}, "X", maximum=10) == "Riverside"


@pytest.mark.parametrize("raw", ["two\nlines", "tab\there", "x" * 11])
def test_an_organisation_line_that_is_not_one_short_line_is_refused_by_name(raw: str) -> None:
    with pytest.raises(config.ConfigurationError, match=r"^X ") as refused:
        config.env_line({"X": raw}, "X", maximum=10)
    assert raw not in str(refused.value)


def test_who_sees_what_reads_blocks_from_the_operators_file(tmp_path: Path) -> None:
    path = tmp_path / "who.txt"
    path.write_text("First line\nsame paragraph.\n\n\n- one\n- two\r\n\nLast.\n", encoding="utf-8")

    assert config.env_text_file({"X": str(path)}, "X", maximum=200) == [
        ["First line", "same paragraph."],
        ["- one", "- two"],
        ["Last."],
    ]
    assert config.env_text_file({"X": " "}, "X", maximum=200) == []


def test_a_who_sees_what_file_that_is_missing_empty_long_or_not_text_is_refused(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    long = tmp_path / "long.txt"
    long.write_text("x" * 201, encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "missing.txt", empty, long, binary):
        with pytest.raises(config.ConfigurationError, match=r"^X"):
            config.env_text_file({"X": str(path)}, "X", maximum=200)


def test_haven_refuses_to_start_with_an_organisation_name_of_two_lines(tmp_path: Path) -> None:
    result = settings_of(tmp_path, "HAVEN_ORGANISATION_NAME", HAVEN_ORGANISATION_NAME="a\nb")
    assert not isinstance(result, dict)
    assert "HAVEN_ORGANISATION_NAME must be one line of plain text." in result.stderr


def test_haven_starts_with_the_operators_settings(tmp_path: Path) -> None:
    who = tmp_path / "who.txt"
    who.write_text("- Facilitators\n- The lead\n", encoding="utf-8")
    names = ("HAVEN_ORGANISATION_NAME", "HAVEN_ORGANISATION_CONTACT", "HAVEN_WHO_SEES_WHAT")
    assert settings_of(
        tmp_path,
        *names,
        HAVEN_ORGANISATION_NAME="Riverside",
        HAVEN_ORGANISATION_CONTACT="0800 000 0000",
        HAVEN_WHO_SEES_WHAT=str(who),
    ) == {
        "HAVEN_ORGANISATION_NAME": "Riverside",
        "HAVEN_ORGANISATION_CONTACT": "0800 000 0000",
        "HAVEN_WHO_SEES_WHAT": [["- Facilitators", "- The lead"]],
    }
