"""Test data for referrals with consent (issue 17): a directory service and a referral of Rose
(the `member` persona) proposed by group A's facilitator, made through the real services."""

from __future__ import annotations

from typing import Any

from safeguarding import services
from safeguarding.models import HelpOrganization, HelpService, Referral
from tests.conftest import World

CONTACT = "Text me on 07700 900123 after six; say it is the clinic."
NEED = "She would like advice about a violent client who knows where she works."


def help_service(name: str = "Night Line", organisation: str = "Safe Streets Trust") -> HelpService:
    org = HelpOrganization.objects.create(name=organisation)
    return HelpService.objects.create(organization=org, name=name, description="Advice at night")


def propose(
    world: World,
    *,
    service: HelpService | None = None,
    member: str = "member",
    contact_route: str = "",
    need: str = NEED,
    share_contact: bool = True,
    share_need: bool = True,
    **options: Any,
) -> Referral:
    return services.referral_propose(
        actor=options.pop("actor", world.users["facilitator"]),
        group_id=world.group_a.pk,
        member_id=world.members[member].pk,
        service_id=(service or help_service()).pk,
        share_contact=share_contact,
        contact_route=contact_route,
        share_need=share_need,
        need=need,
    )


def accepted(world: World, **options: Any) -> Referral:
    """A referral Rose has agreed to, with her contact route written in."""
    referral = propose(world, **options)
    rose = world.users["member"]
    if referral.share_contact and not referral.contact_route:
        referral = services.referral_update_by_member(
            actor=rose, referral_id=referral.pk, contact_route=CONTACT
        )
    return services.referral_accept(actor=rose, referral_id=referral.pk, version=referral.version)
