"""Referral with consent (issue 17): a facilitator proposes, she reads exactly what would be
shared, changes her part, agrees or says no, and may withdraw; the pack exists only while her
consent stands. Every step is audited without text, the words are encrypted at rest, and
referrals follow retention, her export and her erasure."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from groups import services as group_services
from groups.models import MembershipStatus
from project.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from project.models import AuditEntry
from safeguarding import selectors, services
from safeguarding.models import HelpServiceStatus, NeedWords, Referral, ReferralStatus
from tests.conftest import PASSWORD, World
from tests.safeguarding.referralkit import CONTACT, NEED, accepted, help_service, propose
from tests.safeguarding.test_encryption import raw

pytestmark = pytest.mark.django_db

HER_WORDS = "Somewhere to talk about what happened with a client, and what I can do."


def snapshot() -> list[dict[str, Any]]:
    return list(Referral.objects.order_by("pk").values())


def audit_rows() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action__startswith="referral.").order_by("pk"))


# --- proposing -----------------------------------------------------------------------------


def test_a_facilitator_proposes_a_referral_with_only_the_facts_she_chose(world: World) -> None:
    referral = propose(world, share_contact=False, need=NEED)

    assert referral.status == ReferralStatus.PROPOSED
    assert referral.share_contact is False and referral.contact_route == ""
    assert referral.share_need is True and referral.need == NEED
    assert referral.need_words == NeedWords.FACILITATOR
    assert referral.service_name == "Night Line"
    assert referral.organization_name == "Safe Streets Trust"
    assert referral.version == 1


def test_a_fact_not_chosen_is_not_kept_even_when_written(world: World) -> None:
    referral = propose(world, share_need=False, contact_route=CONTACT, need=NEED)

    assert referral.need == "" and referral.contact_route == CONTACT


def test_a_need_left_empty_is_for_her_to_write_in_her_own_words(world: World) -> None:
    assert propose(world, need="").need_words == NeedWords.HERS


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"share_contact": False, "share_need": False}, "share"),
        ({"share_contact": "yes"}, "share_contact"),
        ({"need": "x" * 2001}, "need"),
        ({"member": "facilitator"}, "member_id"),
        ({"member": "outsider"}, "member_id"),
    ],
)
def test_a_bad_proposal_names_the_field_and_changes_nothing(
    world: World, options: dict[str, Any], field: str
) -> None:
    service = help_service()
    before = snapshot()

    with pytest.raises(ValidationFailed) as refused:
        propose(world, service=service, **options)

    assert field in refused.value.extra["fields"]
    assert snapshot() == before


def test_an_inactive_or_missing_service_cannot_be_chosen(world: World) -> None:
    service = help_service()
    service.status = HelpServiceStatus.INACTIVE
    service.save()

    with pytest.raises(ValidationFailed) as refused:
        propose(world, service=service)

    assert "service_id" in refused.value.extra["fields"]
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("persona", ["member2", "peer_mentor", "safeguarding_lead"])
def test_only_the_group_s_facilitators_propose(world: World, persona: str) -> None:
    with pytest.raises(NotFound):
        propose(world, actor=world.users[persona])
    assert Referral.objects.count() == 0


def test_a_directory_edit_does_not_change_what_she_is_asked_to_agree_to(world: World) -> None:
    service = help_service()
    referral = propose(world, service=service)
    service.name = "Renamed Line"
    service.save()
    service.delete()

    referral.refresh_from_db()
    assert referral.service_id is None
    assert referral.service_name == "Night Line"
    assert selectors.referral_detail(viewer=world.users["member"], referral_id=referral.pk)


# --- her answer ----------------------------------------------------------------------------


def test_she_changes_her_part_and_the_need_becomes_her_own_words(world: World) -> None:
    referral = propose(world)

    changed = services.referral_update_by_member(
        actor=world.users["member"], referral_id=referral.pk, contact_route=CONTACT, need=HER_WORDS
    )

    assert (changed.contact_route, changed.need) == (CONTACT, HER_WORDS)
    assert changed.need_words == NeedWords.HERS
    assert changed.version == 2 and changed.edited_at is not None


def test_she_may_stop_sharing_a_fact_but_never_add_one_not_chosen(world: World) -> None:
    rose = world.users["member"]
    referral = propose(world, share_contact=False)

    with pytest.raises(ValidationFailed) as refused:
        services.referral_update_by_member(actor=rose, referral_id=referral.pk, share_contact=True)
    assert "share_contact" in refused.value.extra["fields"]

    both = propose(world, contact_route=CONTACT)
    narrowed = services.referral_update_by_member(
        actor=rose, referral_id=both.pk, share_contact=False
    )
    assert narrowed.share_contact is False and narrowed.contact_route == ""


def test_she_agrees_to_the_version_she_read_and_not_to_a_newer_one(world: World) -> None:
    rose = world.users["member"]
    referral = propose(world, contact_route=CONTACT)
    services.referral_update_by_member(actor=rose, referral_id=referral.pk, need=HER_WORDS)

    with pytest.raises(Conflict):
        services.referral_accept(actor=rose, referral_id=referral.pk, version=1)
    assert Referral.objects.get().status == ReferralStatus.PROPOSED

    agreed = services.referral_accept(actor=rose, referral_id=referral.pk, version=2)
    assert agreed.status == ReferralStatus.ACCEPTED and agreed.consented_at is not None


def test_she_cannot_agree_while_a_shared_fact_is_still_empty(world: World) -> None:
    referral = propose(world, contact_route="")

    with pytest.raises(ValidationFailed) as refused:
        services.referral_accept(actor=world.users["member"], referral_id=referral.pk, version=1)

    assert "contact_route" in refused.value.extra["fields"]
    assert Referral.objects.get().status == ReferralStatus.PROPOSED


def test_changing_her_words_after_agreeing_asks_her_to_agree_again(world: World) -> None:
    referral = accepted(world)

    changed = services.referral_update_by_member(
        actor=world.users["member"], referral_id=referral.pk, need=HER_WORDS
    )

    assert changed.status == ReferralStatus.PROPOSED and changed.consented_at is None
    with pytest.raises(NotFound):
        services.referral_pack(actor=world.users["facilitator"], referral_id=referral.pk)


def test_she_says_no_and_nothing_can_be_passed_on(world: World) -> None:
    referral = propose(world, contact_route=CONTACT)

    declined = services.referral_decline(actor=world.users["member"], referral_id=referral.pk)

    assert declined.status == ReferralStatus.DECLINED and declined.closed_at is not None
    with pytest.raises(Conflict):
        services.referral_accept(actor=world.users["member"], referral_id=referral.pk, version=1)
    with pytest.raises(NotFound):
        services.referral_pack(actor=world.users["facilitator"], referral_id=referral.pk)


def test_she_withdraws_her_consent_and_the_pack_is_gone(world: World) -> None:
    referral = accepted(world)
    services.referral_pack(actor=world.users["facilitator"], referral_id=referral.pk)

    withdrawn = services.referral_withdraw(actor=world.users["member"], referral_id=referral.pk)

    assert withdrawn.status == ReferralStatus.WITHDRAWN and withdrawn.withdrawn_by_member
    for persona in ("facilitator", "safeguarding_lead", "admin"):
        with pytest.raises(NotFound):
            services.referral_pack(actor=world.users[persona], referral_id=referral.pk)


def test_she_can_still_withdraw_after_leaving_the_group_but_not_agree(world: World) -> None:
    agreed = accepted(world)
    waiting = propose(world, contact_route=CONTACT)
    rose = world.members["member"]
    group_services.member_remove(
        actor=world.users["member"], group=world.group_a, member_id=rose.pk
    )
    rose.refresh_from_db()
    assert rose.status == MembershipStatus.LEFT

    with pytest.raises(Forbidden):
        services.referral_accept(actor=world.users["member"], referral_id=waiting.pk, version=1)
    services.referral_withdraw(actor=world.users["member"], referral_id=agreed.pk)
    assert Referral.objects.get(pk=agreed.pk).status == ReferralStatus.WITHDRAWN


def test_withdrawing_one_she_never_agreed_to_is_refused_with_a_way_forward(world: World) -> None:
    referral = propose(world)

    with pytest.raises(Conflict) as refused:
        services.referral_withdraw(actor=world.users["member"], referral_id=referral.pk)

    assert "Say no instead" in refused.value.message


def test_staff_may_cancel_a_proposal_she_has_not_answered(world: World) -> None:
    referral = propose(world)

    cancelled = services.referral_withdraw(
        actor=world.users["facilitator"], referral_id=referral.pk
    )

    assert cancelled.status == ReferralStatus.WITHDRAWN and not cancelled.withdrawn_by_member


@pytest.mark.parametrize(
    "persona", ["member2", "peer_mentor", "facilitator", "safeguarding_lead", "admin", "outsider"]
)
def test_nobody_but_her_reads_or_answers_her_referral(world: World, persona: str) -> None:
    referral = propose(world, contact_route=CONTACT)
    user = world.users[persona]
    before = snapshot()

    with pytest.raises(NotFound):
        selectors.referral_detail(viewer=user, referral_id=referral.pk)
    with pytest.raises(NotFound):
        services.referral_accept(actor=user, referral_id=referral.pk, version=1)
    with pytest.raises(NotFound):
        services.referral_update_by_member(actor=user, referral_id=referral.pk, need="x")
    with pytest.raises(NotFound):
        services.referral_decline(actor=user, referral_id=referral.pk)
    assert snapshot() == before


# --- the pack ------------------------------------------------------------------------------


def test_before_she_agrees_there_is_no_pack_for_anyone(world: World) -> None:
    referral = propose(world, contact_route=CONTACT)

    for persona in ("facilitator", "safeguarding_lead", "admin", "member", "peer_mentor"):
        with pytest.raises(NotFound):
            services.referral_pack(actor=world.users[persona], referral_id=referral.pk)
    assert Referral.objects.get().pack_downloaded_at is None


def test_the_pack_holds_exactly_what_she_agreed_to_and_its_download_is_recorded(
    world: World,
) -> None:
    referral = accepted(world, share_need=False)

    pack = services.referral_pack(actor=world.users["safeguarding_lead"], referral_id=referral.pk)
    text = services.pack_text(pack)

    assert pack.contact_route == CONTACT and pack.need is None
    assert CONTACT in text and NEED not in text
    assert f"R-{referral.pk}" in text and "Night Line (Safe Streets Trust)" in text
    assert "Rose" not in text and "Group A" not in text
    stored = Referral.objects.get()
    assert stored.pack_downloaded_by == world.users["safeguarding_lead"]
    assert stored.pack_downloaded_at is not None
    assert audit_rows()[-1].action == "referral.pack_downloaded"


def test_the_pack_is_not_for_other_facilitators_or_peer_mentors(world: World) -> None:
    referral = accepted(world)

    for persona in ("other_facilitator", "peer_mentor", "member2", "member"):
        with pytest.raises(NotFound):
            services.referral_pack(actor=world.users[persona], referral_id=referral.pk)


# --- audit, encryption, retention, export, erasure ------------------------------------------


def test_every_step_is_audited_without_any_of_its_words(world: World) -> None:
    rose = world.users["member"]
    referral = propose(world)
    services.referral_update_by_member(
        actor=rose, referral_id=referral.pk, contact_route=CONTACT, need=HER_WORDS
    )
    services.referral_accept(actor=rose, referral_id=referral.pk, version=2)
    services.referral_pack(actor=world.users["facilitator"], referral_id=referral.pk)
    services.referral_withdraw(actor=rose, referral_id=referral.pk)

    rows = audit_rows()
    assert [row.action for row in rows] == [
        "referral.proposed",
        "referral.edited",
        "referral.accepted",
        "referral.pack_downloaded",
        "referral.withdrawn",
    ]
    dumped = json.dumps([[row.action, row.target_id, row.extra] for row in rows])
    for words in (CONTACT, NEED, HER_WORDS, "Rose", "Night Line"):
        assert words not in dumped


def test_her_words_are_encrypted_at_rest(world: World) -> None:
    referral = accepted(world)

    for column, text in (("contact_route", CONTACT), ("need", NEED)):
        stored = raw("safeguarding_referral", column, referral.pk)
        assert stored.startswith("fernet:") and text not in stored
    assert Referral.objects.get().contact_route == CONTACT


def test_retention_empties_a_closed_referral_s_words_and_keeps_an_open_one_s(
    world: World,
) -> None:
    open_one = accepted(world)
    closed = propose(world, contact_route=CONTACT)
    services.referral_decline(actor=world.users["member"], referral_id=closed.pk)

    services.purge_expired(now=timezone.now() + timedelta(days=5))
    assert Referral.objects.get(pk=closed.pk).need == NEED
    services.purge_expired(now=timezone.now() + timedelta(days=400))

    emptied = Referral.objects.get(pk=closed.pk)
    assert (emptied.contact_route, emptied.need) == ("", "")
    assert emptied.status == ReferralStatus.DECLINED
    kept = Referral.objects.get(pk=open_one.pk)
    assert (kept.contact_route, kept.need) == (CONTACT, NEED)


def test_her_export_holds_her_referrals_as_shared_without_naming_who_proposed(
    world: World,
) -> None:
    accepted(world)

    export = services.member_export(actor=world.users["member"])

    [row] = export["referrals"]
    assert row["service"] == "Night Line" and row["status"] == "accepted"
    assert (row["contact_route"], row["need"]) == (CONTACT, NEED)
    assert "Sam" not in json.dumps(export["referrals"])
    assert services.member_export(actor=world.users["member2"])["referrals"] == []


def test_erasing_her_account_erases_her_referrals(world: World) -> None:
    referral = accepted(world)

    services.account_erase(actor=world.users["member"], password=PASSWORD)

    assert not Referral.objects.filter(pk=referral.pk).exists()
    # The record that it happened stays, without any words.
    assert [row.target_id for row in audit_rows()][-1] == str(referral.pk)
