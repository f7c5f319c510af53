"""Invites handed over safely (issue 16): one person per code by default, a chosen expiry of
1, 7 or 30 days, a staff-only label (encrypted, never shown to members, REST included), who
used each code and when, "Make 10 codes", the page that shows a new code once (never in a URL)
with Copy and a printable card, and facilitators told when someone joins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from groups import services
from groups.models import Invite, InviteUse, Membership, User
from project.exceptions import NotFound, ValidationFailed
from project.models import AuditEntry
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")
LABEL = "Drop-in van, Tuesday"


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def redeem(code: str, username: str, display_name: str):
    return APIClient().post(
        f"/api/v1/invites/{code}/redeem/",
        {"username": username, "password": PASSWORD, "display_name": display_name},
        format="json",
    )


def snapshot() -> tuple[int, int, int, int]:
    return (
        Invite.objects.count(),
        InviteUse.objects.count(),
        Membership.objects.count(),
        AuditEntry.objects.count(),
    )


# --- services ---------------------------------------------------------------------------------


def test_an_invite_lets_one_person_join_unless_its_maker_says_more(world):
    invite, code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, expires_in_days=7
    )

    assert invite.max_uses == 1
    assert redeem(code, "first", "First").status_code == 201
    second = redeem(code, "second", "Second")
    assert second.status_code == 404
    assert not User.objects.filter(username="second").exists()


@pytest.mark.parametrize("days", [1, 7, 30])
def test_an_invite_lasts_the_number_of_days_chosen(world, days):
    before = timezone.now()
    invite, _code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, expires_in_days=days
    )

    assert before + timedelta(days=days) <= invite.expires_at
    assert invite.expires_at <= timezone.now() + timedelta(days=days)


@pytest.mark.parametrize("days", [0, 2, 31, "7", True, None.__class__])
def test_any_other_expiry_is_refused_with_its_field_and_nothing_is_written(world, days):
    before = snapshot()

    with pytest.raises(ValidationFailed) as refused:
        services.invite_create(
            actor=world.users["facilitator"], group=world.group_a, expires_in_days=days
        )

    assert "expires_in_days" in refused.value.extra["fields"]
    assert snapshot() == before


def test_a_label_that_is_too_long_is_refused_and_nothing_is_written(world):
    before = snapshot()

    with pytest.raises(ValidationFailed) as refused:
        services.invite_create(
            actor=world.users["facilitator"], group=world.group_a, label="x" * 61
        )

    assert "label" in refused.value.extra["fields"]
    assert snapshot() == before


def test_the_label_is_encrypted_at_rest_and_audited_without_its_words(world):
    invite, _code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, label=LABEL
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT label FROM groups_invite WHERE id = %s", [invite.pk])
        raw = cursor.fetchone()[0]
    assert raw and "Drop-in" not in raw
    assert Invite.objects.get(pk=invite.pk).label == LABEL
    entry = AuditEntry.objects.get(action="invite.created", target_id=str(invite.pk))
    assert entry.extra["labelled"] is True
    assert "Drop-in" not in str(entry.extra)


def test_who_joined_with_an_invite_and_when_is_kept(world):
    invite, code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, label=LABEL
    )

    assert redeem(code, "newcomer", "Nina").status_code == 201

    use = InviteUse.objects.get(invite=invite)
    assert use.membership.display_name == "Nina"
    assert timezone.now() - use.used_at < timedelta(minutes=1)
    listed = world.client("facilitator").get(f"/api/v1/groups/{world.group_a.pk}/invites/")
    assert listed.status_code == 200
    row = next(r for r in listed.json()["results"] if r["id"] == invite.pk)
    assert row["label"] == LABEL
    assert row["used_by"][0]["display_name"] == "Nina"


def test_make_10_codes_makes_ten_single_use_invites_at_once(world):
    made = services.invite_create_batch(
        actor=world.users["facilitator"], group=world.group_a, label="Start", expires_in_days=30
    )

    assert len(made) == 10
    assert len({code for _invite, code in made}) == 10
    assert all(invite.max_uses == 1 for invite, _code in made)
    assert AuditEntry.objects.filter(action="invite.created").count() >= 10


def test_make_10_codes_with_a_bad_expiry_makes_none(world):
    before = snapshot()

    with pytest.raises(ValidationFailed):
        services.invite_create_batch(
            actor=world.users["facilitator"], group=world.group_a, expires_in_days=3
        )

    assert snapshot() == before


def test_members_and_peer_mentors_cannot_make_codes(world):
    for persona in ("member", "peer_mentor"):
        with pytest.raises(Exception) as refused:
            services.invite_create_batch(actor=world.users[persona], group=world.group_a)
        assert getattr(refused.value, "status", None) == 403
    with pytest.raises(NotFound):
        services.invite_create_batch(actor=world.users["outsider"], group=world.group_a)


# --- REST: the label is staff-only ------------------------------------------------------------


def test_members_never_see_an_invite_label_over_rest(world):
    _invite, code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, label=LABEL
    )
    joined = redeem(code, "newcomer", "Nina")
    assert joined.status_code == 201
    assert "Drop-in" not in joined.content.decode()

    for persona in ("member", "peer_mentor"):
        listed = world.client(persona).get(f"/api/v1/groups/{world.group_a.pk}/invites/")
        assert listed.status_code == 403
        assert "Drop-in" not in listed.content.decode()
        for path in ("", "members/"):
            seen = world.client(persona).get(f"/api/v1/groups/{world.group_a.pk}/{path}")
            assert "Drop-in" not in seen.content.decode()


def test_an_invite_can_be_made_over_rest_with_a_label_and_days(world):
    made = world.client("facilitator").post(
        f"/api/v1/groups/{world.group_a.pk}/invites/",
        {"role": "member", "label": LABEL, "expires_in_days": 30},
        format="json",
    )

    assert made.status_code == 201
    body = made.json()
    assert body["label"] == LABEL and body["max_uses"] == 1
    assert CODE.fullmatch(body["code"])
    refused = world.client("facilitator").post(
        f"/api/v1/groups/{world.group_a.pk}/invites/",
        {"role": "member", "expires_in_days": 5},
        format="json",
    )
    assert refused.status_code == 400
    assert "expires_in_days" in refused.json()["extra"]["fields"]


# --- pages ------------------------------------------------------------------------------------


def test_create_invite_leads_to_a_page_that_shows_the_code_once(world):
    browser = signed_in(world, "facilitator")
    group = world.group_a.pk

    posted = browser.post(
        f"/groups/{group}/invite/",
        {"role": "member", "label": LABEL, "expires_in_days": "1", "max_uses": "1"},
    )

    assert posted.status_code == 302
    assert posted["Location"] == f"/groups/{group}/invites/new/"
    page = browser.get(posted["Location"])
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    text = page.content.decode()
    codes = set(CODE.findall(text))
    assert len(codes) == 1
    assert "data-copy=" in text and "data-print" in text
    assert "Handing it over safely" in text
    assert "<script>" not in text and "onclick" not in text
    title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
    assert "Group A" not in title and "Drop-in" not in title
    (code,) = codes
    invite = Invite.objects.filter(group=world.group_a).order_by("-pk").first()
    assert invite.label == LABEL
    assert invite.expires_at - timezone.now() <= timedelta(days=1)
    assert code not in posted["Location"]

    again = browser.get(f"/groups/{group}/invites/new/")
    assert again.status_code == 200
    assert not CODE.findall(again.content.decode())
    assert "already been shown" in again.content.decode()
    assert redeem(code, "newcomer", "Nina").status_code == 201


def test_the_printed_card_has_the_neutral_address_and_never_the_group(world, settings):
    settings.HAVEN_NEUTRAL_ADDRESS = "example.org/start"
    browser = signed_in(world, "facilitator")
    browser.post(f"/groups/{world.group_a.pk}/invite/", {"role": "member"})

    text = browser.get(f"/groups/{world.group_a.pk}/invites/new/").content.decode()

    cards = text.split('class="invite-cards"')[1]
    assert "example.org/start" in cards
    assert "Group A" not in cards and "For A" not in cards and "Haven" not in cards
    assert len(CODE.findall(cards)) == 1


def test_the_card_falls_back_to_this_sites_join_page(world):
    browser = signed_in(world, "facilitator")
    browser.post(f"/groups/{world.group_a.pk}/invite/", {"role": "member"})

    text = browser.get(f"/groups/{world.group_a.pk}/invites/new/").content.decode()

    assert "http://testserver/join/" in text.split('class="invite-cards"')[1]


def test_make_10_codes_on_the_page_shows_ten_codes_once(world):
    browser = signed_in(world, "facilitator")

    posted = browser.post(
        f"/groups/{world.group_a.pk}/invite_batch/",
        {"role": "member", "label": "Start", "expires_in_days": "30"},
    )

    assert posted.status_code == 302
    text = browser.get(posted["Location"]).content.decode()
    shown = text.split('class="invite-cards"')[0]
    assert len(set(CODE.findall(shown))) == 10
    assert len(CODE.findall(text.split('class="invite-cards"')[1])) == 10
    made = [i for i in Invite.objects.filter(group=world.group_a) if i.label == "Start"]
    assert len(made) == 10 and all(i.max_uses == 1 for i in made)


def test_a_bad_invite_form_stays_on_the_group_page_and_writes_nothing(world):
    browser = signed_in(world, "facilitator")
    before = snapshot()

    posted = browser.post(
        f"/groups/{world.group_a.pk}/invite/", {"role": "member", "expires_in_days": "4"}
    )

    assert posted.status_code == 302
    assert posted["Location"] == f"/groups/{world.group_a.pk}/"
    assert snapshot() == before


def test_members_cannot_open_the_new_invite_page(world):
    for persona, status in (("member", 403), ("peer_mentor", 403), ("outsider", 404)):
        page = signed_in(world, persona).get(f"/groups/{world.group_a.pk}/invites/new/")
        assert page.status_code == status


def test_facilitators_are_told_who_joined_and_members_are_not(world):
    _invite, code = services.invite_create(
        actor=world.users["facilitator"], group=world.group_a, label=LABEL
    )
    assert redeem(code, "newcomer", "Nina").status_code == 201

    group_page = signed_in(world, "facilitator").get(f"/groups/{world.group_a.pk}/")
    text = group_page.content.decode()
    joined = text.split('id="joined-recently"')[1].split("</div>")[0]
    assert "Nina" in joined and LABEL in joined
    listing = signed_in(world, "facilitator").get("/groups/").content.decode()
    # The world's own four joins of this week, and Nina.
    assert "5 people joined in the last 7 days" in listing

    for persona in ("member", "peer_mentor"):
        seen = signed_in(world, persona)
        assert "joined-recently" not in seen.get(f"/groups/{world.group_a.pk}/").content.decode()
        assert "Drop-in" not in seen.get(f"/groups/{world.group_a.pk}/").content.decode()
        assert "joined in the last" not in seen.get("/groups/").content.decode()
