"""Groups and their roster: creating and changing a group, members' roles, removal, leaving,
and (issue 16) a facilitator's considered decision: pause for some weeks or remove, with a
staff-only reason and a message to her, and bringing her back (`member_reinstate`).

A group always keeps a facilitator; a member removed, paused or leaving has her live
connections closed with `closecodes.FORBIDDEN`, and a role change is told to her own
connections. Reasons and messages are encrypted at rest and never written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups import events
from groups.models import (
    Group,
    GroupRole,
    MemberDecision,
    MemberDecisionKind,
    Membership,
    MembershipStatus,
    OrgRole,
    User,
)
from groups.policies import Action, active_membership, require
from groups.selectors import MemberRecord, member_record
from groups.services.accounts import display_name_clean
from project import closecodes, realtime
from project.audit import audit_record
from project.exceptions import Conflict, NotFound, ValidationFailed, parse_id
from project.text import clean_text

GROUP_NAME_MAX = 120
GROUP_DESCRIPTION_MAX = 2000
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 365
# Issue 16: a pause lasts 1 to 12 weeks; the reason is for staff, the message is for her.
PAUSE_WEEKS_MIN, PAUSE_WEEKS_MAX = 1, 12
DECISION_REASON_MAX = 1000
DECISION_MESSAGE_MAX = 500
DECISIONS = ("pause", "remove")


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
    membership.on_break = False
    membership.save(update_fields=["status", "ended_at", "on_break"])
    audit_record(
        actor=actor,
        action="member.left" if leaving else "member.removed",
        target=membership,
        group_id=group.pk,
        extra={"role": membership.role},
    )
    realtime.close_on_commit(realtime.member_group(membership.pk), closecodes.FORBIDDEN)


@transaction.atomic
def membership_break(*, actor: User, group: Group, on: Any) -> Membership:
    """She takes a break from the group (issue 17), or comes back from one: the group folds away
    in My groups, and she stays in it (nothing else changes). Audited without text."""
    if not isinstance(on, bool):
        raise ValidationFailed({"on": [_("Choose whether to take a break or come back.")]})
    mine = active_membership(actor, group)
    require(actor, Action.MEMBER_LEAVE, group=group, membership=mine)
    assert mine is not None  # require() refused anyone without a membership
    membership = Membership.objects.select_for_update().get(pk=mine.pk)
    if membership.on_break != on:
        membership.on_break = on
        membership.save(update_fields=["on_break"])
        audit_record(
            actor=actor,
            action="member.break_started" if on else "member.break_ended",
            target=membership,
            group_id=group.pk,
        )
    return membership


def _decision_fields(*, decision: Any, weeks: Any, reason: Any, message: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {"weeks": None}
    if decision not in DECISIONS:
        errors["decision"] = [_("Choose whether to pause her or remove her.")]
    elif decision == "pause":
        if (
            isinstance(weeks, bool)
            or not isinstance(weeks, int)
            or not PAUSE_WEEKS_MIN <= weeks <= PAUSE_WEEKS_MAX
        ):
            errors["weeks"] = [
                _("Choose a pause of %(min)d to %(max)d weeks.")
                % {"min": PAUSE_WEEKS_MIN, "max": PAUSE_WEEKS_MAX}
            ]
        else:
            data["weeks"] = weeks
    collect_field(
        errors,
        data,
        "reason",
        lambda: clean_text(
            reason,
            field="reason",
            max_length=DECISION_REASON_MAX,
            missing=_("Write the reason. Only staff will see it."),
        ),
    )
    collect_field(
        errors,
        data,
        "message",
        lambda: clean_text(
            message, field="message", max_length=DECISION_MESSAGE_MAX, required=False
        ),
    )
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def member_decide(
    *,
    actor: User,
    group: Group,
    member_id: Any,
    decision: Any,
    reason: Any,
    weeks: Any = None,
    message: Any = "",
) -> MemberDecision:
    """Pause a member for `weeks` weeks, or remove her, with a staff-only reason (required)
    and an optional message she is shown (on her groups page). Nothing is written on a refusal.

    Paused, she cannot enter the group's pages or rooms until the date (groups.policies
    `active_membership` then lets her back by itself); removed, she cannot come back through an
    invite, only by `member_reinstate`. Her live connections close at once.
    """
    mine = active_membership(actor, group)
    require(actor, Action.MEMBER_REMOVE, group=group, membership=mine)
    membership = _member_in_group(group, member_id, lock=True)
    if mine is not None and mine.pk == membership.pk:
        # Leaving is her own act (member_remove); nobody pauses herself.
        raise NotFound()
    data = _decision_fields(decision=decision, weeks=weeks, reason=reason, message=message)
    if membership.role == GroupRole.FACILITATOR and _facilitator_count(group) <= 1:
        raise _last_facilitator()
    now = timezone.now()
    if decision == "pause":
        membership.status = MembershipStatus.PAUSED
        membership.paused_until = now + timedelta(weeks=data["weeks"])
        kind = MemberDecisionKind.PAUSED
    else:
        membership.status = MembershipStatus.REMOVED
        membership.paused_until = None
        kind = MemberDecisionKind.REMOVED
    membership.ended_at = now
    membership.save(update_fields=["status", "paused_until", "ended_at"])
    decided = MemberDecision.objects.create(
        membership=membership,
        kind=kind,
        reason=data["reason"],
        message=data["message"],
        until=membership.paused_until,
        decided_by=actor,
        decided_at=now,
    )
    audit_record(
        actor=actor,
        action=f"member.{kind}",
        target=membership,
        group_id=group.pk,
        extra={
            "role": membership.role,
            "weeks": data["weeks"],
            "decision_id": decided.pk,
            "told_her": bool(data["message"]),
        },
    )
    realtime.close_on_commit(realtime.member_group(membership.pk), closecodes.FORBIDDEN)
    return decided


@transaction.atomic
def member_reinstate(*, actor: User, group: Group, member_id: Any) -> Membership:
    """Bring back a paused or removed member of `group` at once (facilitators); audited."""
    require(actor, Action.MEMBER_REINSTATE, group=group)
    membership = (
        Membership.objects.select_for_update()
        .filter(
            group=group,
            pk=parse_id(member_id),
            status__in=[MembershipStatus.PAUSED, MembershipStatus.REMOVED],
        )
        .first()
    )
    if membership is None:
        raise NotFound()
    previous = membership.status
    membership.status = MembershipStatus.ACTIVE
    membership.paused_until = None
    membership.ended_at = None
    membership.save(update_fields=["status", "paused_until", "ended_at"])
    decided = MemberDecision.objects.create(
        membership=membership, kind=MemberDecisionKind.REINSTATED, decided_by=actor
    )
    audit_record(
        actor=actor,
        action="member.reinstated",
        target=membership,
        group_id=group.pk,
        extra={"from": previous, "decision_id": decided.pk},
    )
    return membership


def member_history_read(*, actor: User, group: Group, membership: Membership) -> MemberRecord:
    """Read one member's record (`groups.selectors.member_record`, with the staff-only reasons
    of the decisions about her); each read is audited, without any text."""
    record = member_record(viewer=actor, membership=membership)
    audit_record(
        actor=actor,
        action="member.history_read",
        target=membership,
        group_id=group.pk,
    )
    return record
