"""Groups and their roster: creating and changing a group, members' roles, removal, leaving.

A group always keeps a facilitator; a member removed or leaving has her live connections
closed with `closecodes.FORBIDDEN`, and a role change is told to her own connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups import events
from groups.models import Group, GroupRole, Membership, MembershipStatus, OrgRole, User
from groups.policies import Action, active_membership, require
from groups.services.accounts import display_name_clean
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

GROUP_NAME_MAX = 120
GROUP_DESCRIPTION_MAX = 2000
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 365


def collect_field(
    errors: dict[str, list[str]], data: dict[str, Any], name: str, clean: Callable[[], Any]
) -> None:
    """Run one field's cleaner: its value into `data`, or its refusal into `errors`, so one
    answer can name every field that needs another look."""
    try:
        data[name] = clean()
    except ValidationFailed as exc:
        errors.update(exc.extra["fields"])


def _retention_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed({"retention_days": [_("Give a whole number of days.")]})
    if not RETENTION_DAYS_MIN <= value <= RETENTION_DAYS_MAX:
        raise ValidationFailed(
            {
                "retention_days": [
                    _("Keep messages between %(min)d and %(max)d days.")
                    % {"min": RETENTION_DAYS_MIN, "max": RETENTION_DAYS_MAX}
                ]
            }
        )
    return value


def _group_fields(
    *, name: Any = None, description: Any = None, retention_days: Any = None, partial: bool
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    if name is not None or not partial:
        collect_field(
            errors,
            data,
            "name",
            lambda: clean_text(
                name,
                field="name",
                max_length=GROUP_NAME_MAX,
                one_line=True,
                missing=_("Give the group a name."),
            ),
        )
    if description is not None:
        collect_field(
            errors,
            data,
            "description",
            lambda: clean_text(
                description,
                field="description",
                max_length=GROUP_DESCRIPTION_MAX,
                required=False,
            ),
        )
    if retention_days is not None:
        collect_field(errors, data, "retention_days", lambda: _retention_days(retention_days))
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def group_create(*, actor: User, name: Any, description: Any, display_name: Any) -> Group:
    """Create a group; the actor becomes its facilitator under `display_name`."""
    require(actor, Action.GROUP_CREATE)
    data = _group_fields(name=name, description=description or "", partial=False)
    shown, key = display_name_clean(display_name)
    group = Group.objects.create(**data)
    membership = Membership.objects.create(
        group=group,
        user=actor,
        display_name=shown,
        display_name_key=key,
        role=GroupRole.FACILITATOR,
    )
    audit_record(actor=actor, action="group.created", target=group, group_id=group.pk)
    audit_record(
        actor=actor,
        action="member.joined",
        target=membership,
        group_id=group.pk,
        extra={"role": membership.role, "via": "group_create"},
    )
    return group


@transaction.atomic
def group_update(
    *,
    actor: User,
    group: Group,
    name: Any = None,
    description: Any = None,
    retention_days: Any = None,
) -> Group:
    """Change a group's name, description or retention; audited with the fields changed."""
    require(actor, Action.GROUP_UPDATE, group=group)
    data = _group_fields(
        name=name, description=description, retention_days=retention_days, partial=True
    )
    changed = [field for field, value in data.items() if getattr(group, field) != value]
    for field in changed:
        setattr(group, field, data[field])
    if changed:
        group.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="group.updated",
            target=group,
            group_id=group.pk,
            extra={"fields": sorted(changed)},
        )
    return group


# --- roster ----------------------------------------------------------------------------------


def _member_in_group(group: Group, member_id: Any, *, lock: bool = False) -> Membership:
    queryset = Membership.objects.filter(
        group=group, pk=parse_id(member_id), status=MembershipStatus.ACTIVE
    )
    if lock:
        queryset = queryset.select_for_update()
    membership = queryset.first()
    if membership is None:
        raise NotFound()
    return membership


def _facilitator_count(group: Group) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(group=group, role=GroupRole.FACILITATOR, status=MembershipStatus.ACTIVE)
        .count()
    )


def _last_facilitator() -> Conflict:
    return Conflict(
        _("A group always needs a facilitator. Make someone else facilitator first."),
        code="last_facilitator",
    )


@transaction.atomic
def member_change_role(*, actor: User, group: Group, member_id: Any, role: Any) -> Membership:
    """Make a member facilitator, peer mentor or member; her open connections are told."""
    require(actor, Action.MEMBER_CHANGE_ROLE, group=group)
    if role not in GroupRole.values:
        raise ValidationFailed({"role": [_("Choose facilitator, peer_mentor or member.")]})
    membership = _member_in_group(group, member_id, lock=True)
    if membership.role == role:
        return membership
    if role == GroupRole.FACILITATOR and membership.user.org_role not in {
        OrgRole.FACILITATOR,
        OrgRole.ADMIN,
    }:
        raise ValidationFailed(
            {"role": [_("Only staff accounts with the facilitator role can facilitate.")]}
        )
    if membership.role == GroupRole.FACILITATOR and _facilitator_count(group) <= 1:
        raise _last_facilitator()
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="member.role_changed",
        target=membership,
        group_id=group.pk,
        extra={"from": previous, "to": role},
    )
    realtime.broadcast_on_commit(
        realtime.member_group(membership.pk),
        events.member_role_changed(member_id=membership.pk, role=role),
    )
    # Her open rooms follow at once: a demoted host stops hearing the hosts' events.
    realtime.rights_changed_on_commit(realtime.member_group(membership.pk))
    return membership


@transaction.atomic
def member_remove(*, actor: User, group: Group, member_id: Any) -> None:
    """Remove a member (facilitators), or leave (a member removing herself).

    Her live connections to the group's sessions close with `closecodes.FORBIDDEN`. A member
    who left may come back with a new invite; one who was removed may not.
    """
    mine = active_membership(actor, group)
    target_id = parse_id(member_id)
    leaving = mine is not None and mine.pk == target_id
    require(
        actor,
        Action.MEMBER_LEAVE if leaving else Action.MEMBER_REMOVE,
        group=group,
        membership=mine,
    )
    membership = _member_in_group(group, target_id, lock=True)
    if membership.role == GroupRole.FACILITATOR and _facilitator_count(group) <= 1:
        raise _last_facilitator()
    membership.status = MembershipStatus.LEFT if leaving else MembershipStatus.REMOVED
    membership.ended_at = timezone.now()
    membership.save(update_fields=["status", "ended_at"])
    audit_record(
        actor=actor,
        action="member.left" if leaving else "member.removed",
        target=membership,
        group_id=group.pk,
        extra={"role": membership.role},
    )
    realtime.close_on_commit(realtime.member_group(membership.pk), closecodes.FORBIDDEN)
