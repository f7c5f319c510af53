"""Staff accounts, run by the organisation's admins from the pages (issue 16, the lead's view):
add a staff member, change her role, switch her account off (at once: every token, browser
session and live socket of hers ends, and with them her access to every concern) or on again.

An admin never switches herself off, and the organisation always keeps one active admin.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from groups.models import OrgRole, User
from groups.policies import STAFF_ROLES, Action, require
from groups.services.accounts import StaffCreated, account_deactivate, staff_create
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id

# A first password for a new staff member: 4 groups of 4 from an alphabet without look-alikes,
# read aloud or copied once; she signs in with it and her authenticator app.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class StaffAdded:
    """What the admin hands over once: the first password, the authenticator key and the
    recovery codes. Never stored in this form."""

    created: StaffCreated
    password: str


def first_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def _role(value: Any) -> str:
    if value not in STAFF_ROLES:
        raise ValidationFailed({"role": [_("Choose facilitator, safeguarding lead or admin.")]})
    return value


def _staff_member(user_id: Any, *, lock: bool = False) -> User:
    """A staff account by id; a member's account (or none) is not found: members are not
    managed here."""
    users = User.objects.exclude(org_role=OrgRole.NONE)
    if lock:
        users = users.select_for_update()
    found = users.filter(pk=parse_id(user_id)).first()
    if found is None:
        raise NotFound()
    return found


def _keeps_an_admin(user: User) -> None:
    """Refuse what would leave the organisation with no active admin."""
    others = (
        User.objects.select_for_update()
        .filter(org_role=OrgRole.ADMIN, is_active=True)
        .exclude(pk=user.pk)
    )
    if user.org_role == OrgRole.ADMIN and user.is_active and not others.exists():
        raise Conflict(
            _("This is the only admin. Make someone else an admin first."), code="last_admin"
        )


@transaction.atomic
def staff_add(*, actor: User, username: Any, role: Any) -> StaffAdded:
    """A new staff account with a first password, an authenticator key and recovery codes."""
    require(actor, Action.STAFF_MANAGE)
    fields: dict[str, list[str]] = {}
    try:
        role = _role(role)
    except ValidationFailed as exc:
        fields.update(exc.extra["fields"])
    if fields:
        raise ValidationFailed(fields)
    password = first_password()
    created = staff_create(actor=actor, username=username, password=password, org_role=role)
    return StaffAdded(created=created, password=password)


@transaction.atomic
def staff_change_role(*, actor: User, user_id: Any, role: Any) -> User:
    require(actor, Action.STAFF_MANAGE)
    role = _role(role)
    user = _staff_member(user_id, lock=True)
    if user.org_role == role:
        return user
    if role != OrgRole.ADMIN:
        _keeps_an_admin(user)
    before = user.org_role
    user.org_role = role
    user.is_staff = user.is_superuser = role == OrgRole.ADMIN
    user.save(update_fields=["org_role", "is_staff", "is_superuser"])
    audit_record(
        actor=actor, action="account.role_changed", target=user, extra={"from": before, "to": role}
    )
    return user


def _switch_off(actor: User, user: User) -> User:
    """Never her own account, never the last active admin; one already off stays as it is."""
    if user.pk == actor.pk:
        raise Conflict(_("You cannot switch off your own account."), code="self")
    if not user.is_active:
        return user
    _keeps_an_admin(user)
    account_deactivate(actor=actor, user=user)
    return user


@transaction.atomic
def staff_switch_off(*, actor: User, user_id: Any) -> User:
    """Switch a staff account off now: her tokens, browser sessions and sockets end."""
    require(actor, Action.STAFF_MANAGE)
    return _switch_off(actor, _staff_member(user_id, lock=True))


@transaction.atomic
def account_switch_off(*, actor: User, user_id: Any) -> User:
    """Switch any account off, a member's too (issue 19: the Django admin), by the rules of
    `staff_switch_off`: her tokens, browser sessions and sockets end."""
    require(actor, Action.STAFF_MANAGE)
    user = User.objects.select_for_update().filter(pk=parse_id(user_id)).first()
    if user is None:
        raise NotFound()
    return _switch_off(actor, user)


@transaction.atomic
def staff_switch_on(*, actor: User, user_id: Any) -> User:
    require(actor, Action.STAFF_MANAGE)
    user = _staff_member(user_id, lock=True)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action="account.reactivated", target=user)
    return user
