"""Referral with consent on the pages (issue 17): the facilitator's form from her record, her
own page showing exactly what would be shared, her answer ending on a confirmation panel, the
pack (print page and a neutrally named file) only once she agreed, and 404 for everyone else.
The browser walk-through is tests/browser/test_referral_consent.py."""

from __future__ import annotations

import pytest

from safeguarding.models import Referral, ReferralStatus
from tests.conftest import World
from tests.safeguarding.referralkit import CONTACT, NEED, accepted, help_service, propose
from tests.safeguarding.test_concern_notes import signed_in

pytestmark = pytest.mark.django_db


def test_the_facilitator_suggests_help_from_her_record_and_sees_a_confirmation(
    world: World,
) -> None:
    service = help_service()
    client = signed_in(world, "facilitator")
    record = f"/groups/{world.group_a.pk}/members/{world.members['member'].pk}/"
    assert "Suggest help from another service" in client.get(record).content.decode()

    answer = client.post(
        record + "referral/",
        {"service_id": service.pk, "share_need": "1", "need": NEED},
        follow=True,
    )

    assert answer.status_code == 200
    text = answer.content.decode()
    assert "Suggestion sent" in text and "Waiting for her answer" in text
    assert NEED not in text  # staff follow the status, never her words
    referral = Referral.objects.get()
    assert (referral.share_need, referral.share_contact) == (True, False)


def test_a_suggestion_with_nothing_chosen_keeps_the_form_and_changes_nothing(
    world: World,
) -> None:
    service = help_service()
    client = signed_in(world, "facilitator")
    path = f"/groups/{world.group_a.pk}/members/{world.members['member'].pk}/referral/"

    answer = client.post(path, {"service_id": service.pk, "need": NEED})

    assert answer.status_code == 400
    text = answer.content.decode()
    assert "There is a problem" in text and "Choose at least one thing to share." in text
    assert "<title>Error:" in text and NEED in text
    assert Referral.objects.count() == 0


def test_she_reads_exactly_what_would_be_shared_and_agrees(world: World) -> None:
    referral = propose(world, contact_route=CONTACT)
    client = signed_in(world, "member")
    assert (
        "A suggestion is waiting for your answer"
        in client.get(f"/groups/{world.group_a.pk}/").content.decode()
    )

    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert CONTACT in page and NEED in page and "Night Line" in page
    title = page[page.index("<title>") : page.index("</title>")]
    assert "Night Line" not in title

    done = client.post(
        f"/referrals/{referral.pk}/", {"answer": "accept", "version": "1"}, follow=True
    )
    assert "You agreed to share this" in done.content.decode()
    assert Referral.objects.get().status == ReferralStatus.ACCEPTED


def test_she_changes_her_words_and_is_asked_again(world: World) -> None:
    referral = accepted(world)
    client = signed_in(world, "member")

    client.post(
        f"/referrals/{referral.pk}/change/",
        {"keep_contact": "1", "contact_route": CONTACT, "keep_need": "1", "need": "My words"},
    )

    stored = Referral.objects.get()
    assert stored.need == "My words" and stored.status == ReferralStatus.PROPOSED


@pytest.mark.parametrize("persona", ["member2", "peer_mentor", "facilitator", "admin", "outsider"])
def test_her_referral_pages_are_not_found_for_anyone_else(world: World, persona: str) -> None:
    referral = propose(world, contact_route=CONTACT)
    client = signed_in(world, persona)

    for path in ("", "change/", "withdraw/", "done/"):
        assert client.get(f"/referrals/{referral.pk}/{path}").status_code == 404
    assert (
        client.post(f"/referrals/{referral.pk}/", {"answer": "accept", "version": "1"}).status_code
        == 404
    )
    assert Referral.objects.get().status == ReferralStatus.PROPOSED


def test_the_pack_is_not_found_before_she_agrees_and_printable_after(world: World) -> None:
    referral = propose(world, contact_route=CONTACT)
    client = signed_in(world, "facilitator")
    assert client.get(f"/referrals/{referral.pk}/pack/").status_code == 404
    assert client.get(f"/referrals/{referral.pk}/pack/file/").status_code == 404

    client_rose = signed_in(world, "member")
    client_rose.post(f"/referrals/{referral.pk}/", {"answer": "accept", "version": "1"})

    page = client.get(f"/referrals/{referral.pk}/pack/").content.decode()
    assert CONTACT in page and f"R-{referral.pk}" in page
    download = client.get(f"/referrals/{referral.pk}/pack/file/")
    assert download["Content-Disposition"] == f'attachment; filename="referral-{referral.pk}.txt"'
    assert download["Content-Type"].startswith("text/plain")
    assert CONTACT in download.content.decode()
    for persona in ("peer_mentor", "member2", "member", "other_facilitator"):
        assert signed_in(world, persona).get(f"/referrals/{referral.pk}/pack/").status_code == 404
