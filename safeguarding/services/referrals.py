"""Referral with consent (issue 17): a facilitator proposes passing a member on to a service of
the help directory, choosing exactly which facts would be shared (her contact route, what she
would like help with); she reads them exactly as they would be shared, changes her part, agrees
or says no, and may withdraw her consent at any time. The pack to pass on exists only while her
consent stands.

Who stands how to a referral, and which moves each may make, is `safeguarding.policies`'s
(`referral_for`, `REFERRAL_MOVES`). Every step is audited with ids, versions and which facts,
never the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import GroupRole, Membership, MembershipStatus, User
from groups.policies import Action, can, group_for
from project.audit import audit_record
from project.exceptions import Conflict, Forbidden, NotFound, ValidationFailed, parse_id
from project.organisation import organisation_words
from project.text import clean_text
from safeguarding.models import (
    NeedWords,
    Referral,
    ReferralStatus,
)
from safeguarding.policies import (
    REFERRAL_OPEN,
    ReferralRole,
    may_read_pack,
    referral_for,
    referral_may_move,
)
from safeguarding.selectors import help_services_active

CONTACT_MAX = 500
NEED_MAX = 2000
# Who may be referred: members and peer mentors of the group, never its facilitators.
REFERRED_ROLES = (GroupRole.MEMBER, GroupRole.PEER_MENTOR)


def _field_id(value: Any, field: str, message: str) -> int:
    try:
        return parse_id(value)
    except NotFound:
        raise ValidationFailed({field: [message]}) from None


def _flag(value: Any, field: str, fields: dict[str, list[str]]) -> bool:
    if not isinstance(value, bool):
        fields[field] = [_("Choose yes or no.")]
        return False
    return value


def _nothing_shared() -> ValidationFailed:
    return ValidationFailed({"share": [_("Choose at least one thing to share.")]})


def _record(actor: User, action: str, referral: Referral, **extra: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=referral,
        group_id=referral.group_id,
        extra={"version": referral.version, **extra},
    )


@transaction.atomic
def referral_propose(
    *,
    actor: User,
    group_id: Any,
    member_id: Any,
    service_id: Any,
    share_contact: Any = False,
    contact_route: Any = "",
    share_need: Any = False,
    need: Any = "",
) -> Referral:
    """Propose to pass a member of the group on to a directory service, sharing only the facts
    chosen. Either text may be left for her to write; she must fill a shared one to agree."""
    group = group_for(actor, group_id, Action.REFERRAL_PROPOSE, visible=Action.REFERRAL_PROPOSE)
    fields: dict[str, list[str]] = {}
    member_pk = _field_id(member_id, "member_id", _("Choose a member of this group."))
    service_pk = _field_id(service_id, "service_id", _("Choose a service from the directory."))
    target = (
        Membership.objects.filter(
            group=group, pk=member_pk, status=MembershipStatus.ACTIVE, role__in=REFERRED_ROLES
        )
        .exclude(user_id=actor.pk)
        .first()
    )
    if target is None:
        fields["member_id"] = [_("Choose a member of this group.")]
    service = help_services_active().filter(pk=service_pk).select_related("organization").first()
    if service is None:
        fields["service_id"] = [_("Choose a service from the directory.")]
    shares_contact = _flag(share_contact, "share_contact", fields)
    shares_need = _flag(share_need, "share_need", fields)
    if fields:
        raise ValidationFailed(fields)
    assert target is not None and service is not None
    if not (shares_contact or shares_need):
        raise _nothing_shared()
    contact = clean_text(
        contact_route, field="contact_route", max_length=CONTACT_MAX, required=False
    )
    words = clean_text(need, field="need", max_length=NEED_MAX, required=False)
    referral = Referral.objects.create(
        group=group,
        membership=target,
        service=service,
        service_name=service.name,
        organization_name=service.organization.name,
        proposed_by=actor,
        share_contact=shares_contact,
        contact_route=contact if shares_contact else "",
        share_need=shares_need,
        need=words if shares_need else "",
        need_words=NeedWords.FACILITATOR if words else NeedWords.HERS,
    )
    _record(
        actor,
        "referral.proposed",
        referral,
        service=service.pk,
        shares_contact=shares_contact,
        shares_need=shares_need,
    )
    return referral


def _hers_to_answer(actor: User, referral_id: Any) -> Referral:
    """Her referral, locked; agreeing to or changing it needs her in the group still."""
    referral, _role = referral_for(
        actor=actor, referral_id=referral_id, lock=True, roles=frozenset({ReferralRole.SUBJECT})
    )
    if not can(actor, Action.REFERRAL_RESPOND, membership=referral.membership):
        raise Forbidden(_("You are no longer in this group. You can still say no or withdraw."))
    return referral


@transaction.atomic
def referral_update_by_member(
    *,
    actor: User,
    referral_id: Any,
    contact_route: Any = None,
    need: Any = None,
    share_contact: Any = None,
    share_need: Any = None,
) -> Referral:
    """She changes her part: the words of a shared fact, or stops sharing one (never adds one
    the facilitator did not choose). Changing an agreed referral asks her to agree again: her
    consent was to the words she read. `None` leaves a value as it is."""
    referral = _hers_to_answer(actor, referral_id)
    if referral.status not in REFERRAL_OPEN:
        raise Conflict(_("This referral is closed. Nothing was changed."))
    fields: dict[str, list[str]] = {}
    shares = {"share_contact": referral.share_contact, "share_need": referral.share_need}
    for name, value in (("share_contact", share_contact), ("share_need", share_need)):
        if value is None:
            continue
        wanted = _flag(value, name, fields)
        if wanted and not shares[name]:
            fields[name] = [_("Only what your facilitator suggested can be shared.")]
        shares[name] = wanted and shares[name]
    if fields:
        raise ValidationFailed(fields)
    if not any(shares.values()):
        raise _nothing_shared()
    contact = referral.contact_route
    if contact_route is not None:
        contact = clean_text(
            contact_route, field="contact_route", max_length=CONTACT_MAX, required=False
        )
    words = referral.need
    if need is not None:
        words = clean_text(need, field="need", max_length=NEED_MAX, required=False)
    contact = contact if shares["share_contact"] else ""
    words = words if shares["share_need"] else ""
    before = (referral.share_contact, referral.contact_route, referral.share_need, referral.need)
    if before == (shares["share_contact"], contact, shares["share_need"], words):
        return referral
    if words != referral.need:
        referral.need_words = NeedWords.HERS
    referral.share_contact, referral.contact_route = shares["share_contact"], contact
    referral.share_need, referral.need = shares["share_need"], words
    referral.version += 1
    referral.edited_at = timezone.now()
    again = referral.status == ReferralStatus.ACCEPTED
    if again:
        referral.status, referral.consented_at = ReferralStatus.PROPOSED, None
    referral.save()
    _record(
        actor,
        "referral.edited",
        referral,
        shares_contact=referral.share_contact,
        shares_need=referral.share_need,
        consent_asked_again=again,
    )
    return referral


@transaction.atomic
def referral_accept(*, actor: User, referral_id: Any, version: Any) -> Referral:
    """She agrees to share exactly the version she read; a changed one must be read again."""
    referral = _hers_to_answer(actor, referral_id)
    if not referral_may_move(referral, ReferralStatus.ACCEPTED, ReferralRole.SUBJECT):
        raise Conflict(_("This referral is not waiting for your answer."))
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed({"version": [_("Give the version you read.")]})
    if version != referral.version:
        raise Conflict(
            _("It changed since you opened it. Read it again before you agree."), code="changed"
        )
    fields: dict[str, list[str]] = {}
    if referral.share_contact and not referral.contact_route:
        fields["contact_route"] = [_("Say how they can contact you, or choose not to share it.")]
    if referral.share_need and not referral.need:
        fields["need"] = [_("Say what you would like help with, or choose not to share it.")]
    if fields:
        raise ValidationFailed(fields)
    referral.status, referral.consented_at = ReferralStatus.ACCEPTED, timezone.now()
    referral.save(update_fields=["status", "consented_at"])
    _record(actor, "referral.accepted", referral)
    return referral


@transaction.atomic
def referral_decline(*, actor: User, referral_id: Any) -> Referral:
    """She says no: nothing is shared, and the referral is closed."""
    referral, role = referral_for(
        actor=actor, referral_id=referral_id, lock=True, roles=frozenset({ReferralRole.SUBJECT})
    )
    if not referral_may_move(referral, ReferralStatus.DECLINED, role):
        raise Conflict(_("This referral is not waiting for your answer."))
    now = timezone.now()
    referral.status, referral.declined_at, referral.closed_at = ReferralStatus.DECLINED, now, now
    referral.save(update_fields=["status", "declined_at", "closed_at"])
    _record(actor, "referral.declined", referral)
    return referral


@transaction.atomic
def referral_withdraw(*, actor: User, referral_id: Any) -> Referral:
    """She withdraws her consent (any time, even after leaving the group), or staff cancel a
    referral not yet closed. The pack is gone from then on."""
    referral, role = referral_for(
        actor=actor,
        referral_id=referral_id,
        lock=True,
        roles=frozenset({ReferralRole.SUBJECT, ReferralRole.STAFF}),
    )
    if not referral_may_move(referral, ReferralStatus.WITHDRAWN, role):
        if role == ReferralRole.SUBJECT and referral.status == ReferralStatus.PROPOSED:
            raise Conflict(_("You have not agreed to this one. Say no instead."))
        raise Conflict(_("This referral is already closed."))
    now = timezone.now()
    referral.status, referral.withdrawn_at, referral.closed_at = ReferralStatus.WITHDRAWN, now, now
    referral.withdrawn_by_member = role == ReferralRole.SUBJECT
    referral.save(update_fields=["status", "withdrawn_at", "closed_at", "withdrawn_by_member"])
    _record(actor, "referral.withdrawn", referral, by=role.value)
    return referral


@dataclass(frozen=True)
class ReferralPack:
    """What is passed on: the facts she agreed to share, as she read them, and nothing else."""

    referral_id: int
    from_organisation: str
    service_name: str
    organization_name: str
    consented_at: datetime
    version: int
    contact_route: str | None
    need: str | None
    need_words: str

    @property
    def reference(self) -> str:
        return f"R-{self.referral_id}"


PACK_FORMS = frozenset({"file", "print", "api"})


@transaction.atomic
def referral_pack(*, actor: User, referral_id: Any, form: str = "file") -> ReferralPack:
    """The pack, for staff and the leads, only once she agreed and while her consent stands
    (otherwise not found, as if there were none). Each download or print is audited."""
    if form not in PACK_FORMS:
        raise ValueError(f"unknown pack form {form!r}")
    referral, role = referral_for(
        actor=actor,
        referral_id=referral_id,
        lock=True,
        roles=frozenset({ReferralRole.STAFF, ReferralRole.PACK_READER}),
    )
    if not may_read_pack(actor, referral, role) or referral.consented_at is None:
        raise NotFound()
    referral.pack_downloaded_at, referral.pack_downloaded_by = timezone.now(), actor
    referral.save(update_fields=["pack_downloaded_at", "pack_downloaded_by"])
    _record(actor, "referral.pack_downloaded", referral, form=form)
    return ReferralPack(
        referral_id=referral.pk,
        from_organisation=organisation_words().name,
        service_name=referral.service_name,
        organization_name=referral.organization_name,
        consented_at=referral.consented_at,
        version=referral.version,
        contact_route=referral.contact_route if referral.share_contact else None,
        need=referral.need if referral.share_need else None,
        need_words=referral.need_words,
    )


def pack_text(pack: ReferralPack) -> str:
    """The pack as plain text, for the file staff pass on through the usual secure channel."""
    stamp = timezone.localtime(pack.consented_at).strftime("%d %B %Y, %H:%M")
    lines = [
        _("Referral %(ref)s") % {"ref": pack.reference},
        "",
        _("From: %(org)s") % {"org": pack.from_organisation},
        _("To: %(service)s (%(org)s)")
        % {"service": pack.service_name, "org": pack.organization_name},
        _("She agreed to share this on %(date)s.") % {"date": stamp},
        "",
    ]
    if pack.contact_route is not None:
        lines += [_("How to contact her:"), pack.contact_route, ""]
    if pack.need is not None:
        lines += [
            _("What she would like help with (%(whose)s):")
            % {"whose": NeedWords(pack.need_words).label.lower()},
            pack.need,
            "",
        ]
    lines += [
        _("She agreed to share only what is written here."),
        _("She can withdraw her consent at any time."),
        "",
    ]
    return "\n".join(lines)
