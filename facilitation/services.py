"""Writes for sessions, plans, attendance, member preferences and the durable session log.

Keyword-only arguments, actor first; each function authorises through `groups.policies`,
runs in one transaction, audits, and broadcasts only after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.models import (
    Attendance,
    PlanItem,
    PlanItemKind,
    Session,
    SessionEvent,
    SessionKind,
    SessionStatus,
)
from facilitation.taxonomy import CONTENT_WARNING_KEYS
from groups.models import Group, GroupRole, Membership, MembershipStatus, User
from groups.policies import Action, require
from groups.services import agreement_current
from project import realtime
from project.audit import audit_record
from project.exceptions import Conflict, ValidationFailed

CW_SHOW, CW_COLLAPSE = "show", "collapse"
SESSION_TITLE_MAX = 120
SESSION_MAX_LENGTH = timedelta(hours=12)
PLAN_MAX_ITEMS = 30
PLAN_ITEM_MINUTES_MAX = 240
PLAN_NOTES_MAX = 2000
STATUS_NOTE_MAX = 500

# The only moves a session's status may make (PROTOCOL.md "Session status").
TRANSITIONS: dict[str, frozenset[str]] = {
    SessionStatus.SCHEDULED: frozenset({SessionStatus.OPEN}),
    SessionStatus.OPEN: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.LIVE: frozenset({SessionStatus.PAUSED, SessionStatus.ENDED}),
    SessionStatus.PAUSED: frozenset({SessionStatus.LIVE, SessionStatus.ENDED}),
    SessionStatus.ENDED: frozenset(),
}


# --- content-warning preferences -------------------------------------------------------------


def preferences_effective(user: User) -> dict[str, Any]:
    """A member's preferences with every taxonomy category filled in (default: collapse)."""
    stored = (user.preferences or {}).get("content_warnings", {})
    choices = {key: stored.get(key, CW_COLLAPSE) for key in sorted(CONTENT_WARNING_KEYS)}
    return {**(user.preferences or {}), "content_warnings": choices}


def preferences_update(*, actor: User, content_warnings: Any) -> User:
    """Set how content warnings reach this member, per category: `show` or `collapse`."""
    if not isinstance(content_warnings, dict):
        raise ValidationFailed(
            {"preferences.content_warnings": [_("Give a choice for each category.")]}
        )
    fields: dict[str, list[str]] = {}
    for key, choice in content_warnings.items():
        if key not in CONTENT_WARNING_KEYS:
            fields[f"preferences.content_warnings.{key}"] = [_("There is no such category.")]
        elif choice not in {CW_SHOW, CW_COLLAPSE}:
            fields[f"preferences.content_warnings.{key}"] = [_("Choose show or collapse.")]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        preferences = dict(user.preferences or {})
        merged = {**preferences.get("content_warnings", {}), **content_warnings}
        preferences["content_warnings"] = merged
        user.preferences = preferences
        user.save(update_fields=["preferences"])
        audit_record(
            actor=actor,
            action="preferences.updated",
            target=user,
            extra={"categories": len(content_warnings)},
        )
    return user


def _clean_content_warnings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ValidationFailed({field: [_("Give a list of content-warning keys.")]})
    unknown = sorted(set(value) - CONTENT_WARNING_KEYS)
    if unknown:
        raise ValidationFailed({field: [_("Unknown content-warning categories.")]})
    return sorted(set(value), key=value.index)


# --- sessions --------------------------------------------------------------------------------


def _clean_times(starts_at: Any, ends_at: Any) -> None:
    if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime):
        raise ValidationFailed({"starts_at": [_("Give a start and an end time.")]})
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationFailed({"starts_at": [_("Give times with a time zone.")]})
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": [_("The end must come after the start.")]})
    if ends_at - starts_at > SESSION_MAX_LENGTH:
        raise ValidationFailed({"ends_at": [_("A session lasts at most 12 hours.")]})


def _clean_co_hosts(group: Group, member_ids: Any) -> list[Membership]:
    if member_ids is None:
        return []
    if not isinstance(member_ids, list) or any(
        isinstance(m, bool) or not isinstance(m, int) for m in member_ids
    ):
        raise ValidationFailed({"co_hosts": [_("Give a list of member ids.")]})
    wanted = set(member_ids)
    found = list(
        Membership.objects.filter(
            group=group,
            pk__in=wanted,
            role=GroupRole.PEER_MENTOR,
            status=MembershipStatus.ACTIVE,
        )
    )
    if len(found) != len(wanted):
        raise ValidationFailed({"co_hosts": [_("Co-hosts must be peer mentors of this group.")]})
    return found


def _clean_title(title: Any) -> str:
    text = " ".join(title.split()) if isinstance(title, str) else ""
    if not text:
        raise ValidationFailed({"title": [_("Give the session a title.")]})
    if len(text) > SESSION_TITLE_MAX:
        raise ValidationFailed(
            {"title": [_("Use at most %(max)d characters.") % {"max": SESSION_TITLE_MAX}]}
        )
    return text


@transaction.atomic
def session_create(
    *,
    actor: User,
    group: Group,
    title: Any,
    starts_at: Any,
    ends_at: Any,
    kind: Any = SessionKind.BOOKED,
    content_warnings: Any = None,
    co_hosts: Any = None,
) -> Session:
    require(actor, Action.SESSION_CREATE, group=group)
    clean_title = _clean_title(title)
    _clean_times(starts_at, ends_at)
    if kind not in SessionKind.values:
        raise ValidationFailed({"kind": [_("Choose booked or drop_in.")]})
    warnings = _clean_content_warnings(content_warnings, "content_warnings")
    hosts = _clean_co_hosts(group, co_hosts)
    session = Session.objects.create(
        group=group,
        title=clean_title,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        content_warnings=warnings,
        created_by=actor,
    )
    session.co_hosts.set(hosts)
    audit_record(
        actor=actor,
        action="session.created",
        target=session,
        group_id=group.pk,
        extra={"kind": kind, "co_hosts": sorted(m.pk for m in hosts)},
    )
    return session


@transaction.atomic
def session_update(*, actor: User, session: Session, **changes: Any) -> Session:
    """Change a session's details; a `status` change goes through `session_set_status`."""
    require(actor, Action.SESSION_UPDATE, session=session, visible=Action.SESSION_VIEW)
    session = Session.objects.select_for_update().get(pk=session.pk)
    changed: list[str] = []
    if "title" in changes:
        session.title = _clean_title(changes["title"])
        changed.append("title")
    if "starts_at" in changes or "ends_at" in changes:
        starts_at = changes.get("starts_at", session.starts_at)
        ends_at = changes.get("ends_at", session.ends_at)
        _clean_times(starts_at, ends_at)
        session.starts_at, session.ends_at = starts_at, ends_at
        changed += ["starts_at", "ends_at"]
    if "kind" in changes:
        if changes["kind"] not in SessionKind.values:
            raise ValidationFailed({"kind": [_("Choose booked or drop_in.")]})
        session.kind = changes["kind"]
        changed.append("kind")
    if "content_warnings" in changes:
        session.content_warnings = _clean_content_warnings(
            changes["content_warnings"], "content_warnings"
        )
        changed.append("content_warnings")
    hosts = None
    if "co_hosts" in changes:
        hosts = _clean_co_hosts(session.group, changes["co_hosts"])
    if session.status == SessionStatus.ENDED and (changed or hosts is not None):
        raise Conflict(_("This session has ended and can no longer change."), code="ended")
    if changed:
        session.save(update_fields=changed)
    if hosts is not None:
        session.co_hosts.set(hosts)
        changed.append("co_hosts")
    if changed:
        audit_record(
            actor=actor,
            action="session.updated",
            target=session,
            group_id=session.group_id,
            extra={"fields": sorted(set(changed))},
        )
    if "status" in changes:
        session = session_set_status(
            actor=actor, session=session, status=changes["status"], note=changes.get("note")
        )
    return session


def event_append(*, session: Session, event: dict[str, Any]) -> SessionEvent:
    """Append a durable event with the session's next seq and broadcast it after commit.

    The caller holds the session row lock (`select_for_update`) inside its transaction, so
    concurrent writers take seqs one after another, with no gaps and no reordering.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_append must run inside the writer's transaction")
    session.last_seq += 1
    Session.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    kind = event["type"]
    payload = {key: value for key, value in event.items() if key != "type"}
    row = SessionEvent.objects.create(
        session=session, seq=session.last_seq, type=kind, payload=payload
    )
    realtime.broadcast_on_commit(events.session_group(session.pk), row.as_event())
    return row


@transaction.atomic
def session_set_status(*, actor: User, session: Session, status: Any, note: Any = None) -> Session:
    """Move a session along scheduled → open → live ⇄ paused → ended; nothing else.

    Hosts open, start, pause and resume; only facilitators end. A session cannot leave
    `scheduled` while its group has no published agreement.
    """
    if status not in SessionStatus.values:
        raise ValidationFailed({"status": [_("Unknown status.")]})
    action = Action.SESSION_END if status == SessionStatus.ENDED else Action.SESSION_HOST
    require(actor, action, session=session, visible=Action.SESSION_VIEW)
    if note is not None and not isinstance(note, str):
        raise ValidationFailed({"note": [_("Write the note in words.")]})
    clean_note = (note or "").strip() or None
    if clean_note is not None and len(clean_note) > STATUS_NOTE_MAX:
        raise ValidationFailed(
            {"note": [_("Use at most %(max)d characters.") % {"max": STATUS_NOTE_MAX}]}
        )
    session = Session.objects.select_for_update().get(pk=session.pk)
    if status not in TRANSITIONS[session.status]:
        raise Conflict(
            _("A session that is %(current)s cannot become %(wanted)s.")
            % {"current": session.status, "wanted": status},
            code="invalid_transition",
            extra={"status": session.status},
        )
    if session.status == SessionStatus.SCHEDULED and agreement_current(session.group_id) is None:
        raise Conflict(
            _("Publish the group's agreement before opening a session."), code="agreement_missing"
        )
    previous = session.status
    session.status = status
    session.save(update_fields=["status"])
    event_append(session=session, event=events.session_status(status=status, note=clean_note))
    audit_record(
        actor=actor,
        action="session.status_changed",
        target=session,
        group_id=session.group_id,
        extra={"from": previous, "to": status},
    )
    return session


# --- plans -----------------------------------------------------------------------------------


def _clean_plan(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise ValidationFailed({"items": [_("Give a list of agenda items.")]})
    if len(items) > PLAN_MAX_ITEMS:
        raise ValidationFailed(
            {"items": [_("Use at most %(max)d items.") % {"max": PLAN_MAX_ITEMS}]}
        )
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, dict):
            raise ValidationFailed({where: [_("Each item needs a title, kind and minutes.")]})
        title = (
            " ".join(item.get("title", "").split()) if isinstance(item.get("title"), str) else ""
        )
        if not title or len(title) > SESSION_TITLE_MAX:
            raise ValidationFailed({f"{where}.title": [_("Give a title of up to 120 characters.")]})
        if item.get("kind") not in PlanItemKind.values:
            raise ValidationFailed({f"{where}.kind": [_("Unknown kind of item.")]})
        minutes = item.get("minutes")
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 1 <= minutes <= PLAN_ITEM_MINUTES_MAX
        ):
            raise ValidationFailed({f"{where}.minutes": [_("Between 1 and 240 minutes.")]})
        notes = item.get("notes") or ""
        if not isinstance(notes, str) or len(notes) > PLAN_NOTES_MAX:
            raise ValidationFailed({f"{where}.notes": [_("Notes of up to 2000 characters.")]})
        cleaned.append(
            {
                "title": title,
                "kind": item["kind"],
                "minutes": minutes,
                "notes": notes.strip(),
                "content_warnings": _clean_content_warnings(
                    item.get("content_warnings"), f"{where}.content_warnings"
                ),
            }
        )
    return cleaned


@transaction.atomic
def plan_replace(*, actor: User, session: Session, items: Any) -> list[PlanItem]:
    """Replace the whole plan at once: every item is stored, or none is."""
    require(actor, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    cleaned = _clean_plan(items)
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.status == SessionStatus.ENDED:
        raise Conflict(_("This session has ended and can no longer change."), code="ended")
    PlanItem.objects.filter(session=session).delete()
    rows = PlanItem.objects.bulk_create(
        PlanItem(session=session, position=position, **item)
        for position, item in enumerate(cleaned)
    )
    audit_record(
        actor=actor,
        action="plan.replaced",
        target=session,
        group_id=session.group_id,
        extra={"items": len(rows)},
    )
    return rows


# --- attendance ------------------------------------------------------------------------------


def attendance_join(*, membership: Membership, session: Session) -> Attendance:
    return Attendance.objects.create(session=session, membership=membership)


def attendance_leave(*, attendance_id: int) -> None:
    Attendance.objects.filter(pk=attendance_id, left_at__isnull=True).update(left_at=timezone.now())
