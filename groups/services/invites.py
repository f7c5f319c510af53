"""Invites: creating and revoking codes, and joining a group with one.

A code is shown once, at creation; only its hash is stored, in one canonical form so that
case, spaces and dashes typed by a person do not matter. An invite admits one person unless
its maker says otherwise, carries a staff-only label and one of a few expiries, and keeps who
joined with it and when (`InviteUse`; issue 16).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import (
    Group,
    GroupRole,
    Invite,
    InviteUse,
    Membership,
    MembershipStatus,
    User,
)
from groups.policies import Action, is_signed_in, require
from groups.services.accounts import (
    account_create,
    display_name_clean,
    display_name_taken,
    token_issue,
)
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

INVITE_MAX_USES = 100
# Letters and digits that cannot be mistaken for one another when read aloud or typed.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 12
# The roles an invite can give: facilitators are made by a facilitator, never by a code.
INVITE_ROLES = (GroupRole.MEMBER, GroupRole.PEER_MENTOR)
# How long an invite may last, as staff choose it on the page (issue 16).
INVITE_EXPIRY_DAYS = (1, 7, 30)
INVITE_LABEL_MAX = 60
# "Make 10 codes" for a group starting out: single-use codes, made together.
INVITE_BATCH_SIZE = 10


def invite_code_new() -> str:
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, INVITE_LENGTH, 4))


def invite_code_hash(code: Any) -> str:
    """Hash of a code as typed: case, spaces and dashes do not matter."""
    canonical = re.sub(r"[\s-]", "", str(code or "")).upper()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _invite_fields(
    *, role: Any, max_uses: Any, expires_in_hours: Any, expires_in_days: Any, label: Any
) -> dict[str, Any]:
    fields: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    if role not in INVITE_ROLES:
        fields["role"] = [_("Invite as member or peer_mentor.")]
    uses = 1 if max_uses is None else max_uses
    if isinstance(uses, bool) or not isinstance(uses, int) or not 1 <= uses <= INVITE_MAX_USES:
        fields["max_uses"] = [_("Between 1 and %(max)d uses.") % {"max": INVITE_MAX_USES}]
    data["max_uses"] = uses
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or expires_in_days not in INVITE_EXPIRY_DAYS:
            fields["expires_in_days"] = [_("Choose 1 day, 7 days or 30 days.")]
        hours = expires_in_days * 24 if not fields.get("expires_in_days") else 0
    else:
        hours = (
            settings.HAVEN_INVITE_DEFAULT_HOURS if expires_in_hours is None else expires_in_hours
        )
        max_hours = settings.HAVEN_INVITE_MAX_HOURS
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= max_hours:
            fields["expires_in_hours"] = [_("Between 1 and %(max)d hours.") % {"max": max_hours}]
    data["hours"] = hours
    try:
        data["label"] = clean_text(
            label, field="label", max_length=INVITE_LABEL_MAX, required=False, one_line=True
        )
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
    if fields:
        raise ValidationFailed(fields)
    return data


def _invite_new(
    *, actor: User, group: Group, role: Any, data: dict[str, Any]
) -> tuple[Invite, str]:
    code = invite_code_new()
    invite = Invite.objects.create(
        group=group,
        code_hash=invite_code_hash(code),
        role=role,
        max_uses=data["max_uses"],
        expires_at=timezone.now() + timedelta(hours=data["hours"]),
        created_by=actor,
        label=data["label"],
    )
    audit_record(
        actor=actor,
        action="invite.created",
        target=invite,
        group_id=group.pk,
        extra={
            "role": role,
            "max_uses": data["max_uses"],
            "hours": data["hours"],
            "labelled": bool(data["label"]),
        },
    )
    return invite, code


@transaction.atomic
def invite_create(
    *,
    actor: User,
    group: Group,
    role: Any = GroupRole.MEMBER,
    max_uses: Any = None,
    expires_in_hours: Any = None,
    expires_in_days: Any = None,
    label: Any = "",
) -> tuple[Invite, str]:
    """Create an invite and return it with its code; the code is shown this once only.

    One person per code unless `max_uses` says more; the expiry is one of
    `INVITE_EXPIRY_DAYS` (`expires_in_days`) or, over REST, a number of hours; the label is for
    staff alone.
    """
    require(actor, Action.INVITE_MANAGE, group=group)
    data = _invite_fields(
        role=role,
        max_uses=max_uses,
        expires_in_hours=expires_in_hours,
        expires_in_days=expires_in_days,
        label=label,
    )
    return _invite_new(actor=actor, group=group, role=role, data=data)


@transaction.atomic
def invite_create_batch(
    *,
    actor: User,
    group: Group,
    role: Any = GroupRole.MEMBER,
    expires_in_days: Any = 30,
    label: Any = "",
) -> list[tuple[Invite, str]]:
    """ "Make 10 codes": `INVITE_BATCH_SIZE` single-use invites at once, all or none."""
    require(actor, Action.INVITE_MANAGE, group=group)
    data = _invite_fields(
        role=role,
        max_uses=1,
        expires_in_hours=None,
        expires_in_days=expires_in_days,
        label=label,
    )
    return [
        _invite_new(actor=actor, group=group, role=role, data=data)
        for _n in range(INVITE_BATCH_SIZE)
    ]


@transaction.atomic
def invite_revoke(*, actor: User, group: Group, invite_id: Any) -> None:
    """Revoke an invite of `group` (once; revoking it again changes nothing)."""
    require(actor, Action.INVITE_MANAGE, group=group)
    invite = Invite.objects.select_for_update().filter(group=group, pk=parse_id(invite_id)).first()
    if invite is None:
        raise NotFound()
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="invite.revoked", target=invite, group_id=group.pk)


@transaction.atomic
def invite_redeem(
    *,
    actor: Any,
    code: Any,
    display_name: Any,
    username: Any = None,
    password: Any = None,
) -> tuple[Membership, str | None]:
    """Join a group with an invite code; returns the membership and a token for a new account.

    Someone signed in joins with her account and only chooses a display name; anyone else
    creates an account with a username and a password. An unknown, expired, revoked or used-up
    code is not found. A member removed by a facilitator cannot come back through an invite.
    """
    invite = (
        Invite.objects.select_for_update()
        .select_related("group")
        .filter(code_hash=invite_code_hash(code))
        .first()
    )
    if invite is None or not invite.usable():
        raise NotFound(_("This invite code is not valid. It may have expired or been used."))
    group = invite.group
    shown, key = display_name_clean(display_name)
    signed_in = is_signed_in(actor)
    token: str | None = None
    if signed_in:
        user = actor
        existing = Membership.objects.select_for_update().filter(group=group, user=user).first()
        if existing is not None and existing.status == MembershipStatus.ACTIVE:
            raise Conflict(_("You are already in this group."), code="already_member")
        # Removed, or paused until a date: an invite is no way round a facilitator's decision.
        if existing is not None and existing.status in {
            MembershipStatus.REMOVED,
            MembershipStatus.PAUSED,
        }:
            raise NotFound(_("This invite code is not valid. It may have expired or been used."))
    else:
        existing = None
    if (
        Membership.objects.filter(group=group, display_name_key=key)
        .exclude(pk=getattr(existing, "pk", None))
        .exists()
    ):
        raise display_name_taken()
    if not signed_in:
        user = account_create(username=username, password=password)
    try:
        with transaction.atomic():
            if existing is not None:
                existing.display_name, existing.display_name_key = shown, key
                existing.role = invite.role
                existing.status = MembershipStatus.ACTIVE
                existing.joined_at, existing.ended_at = timezone.now(), None
                existing.save()
                membership = existing
            else:
                membership = Membership.objects.create(
                    group=group,
                    user=user,
                    display_name=shown,
                    display_name_key=key,
                    role=invite.role,
                )
    except IntegrityError:
        raise display_name_taken() from None
    invite.uses += 1
    invite.save(update_fields=["uses"])
    InviteUse.objects.create(invite=invite, membership=membership)
    if not signed_in:
        token = token_issue(user=user)
    audit_record(
        actor=user,
        action="invite.redeemed",
        target=invite,
        group_id=group.pk,
        extra={"member_id": membership.pk, "role": membership.role, "new_account": not signed_in},
    )
    return membership, token
