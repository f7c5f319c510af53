"""Reads for the organisation's oversight pages (issue 16, the lead's view): the audit page
(the log narrowed and named, through `selectors.audit_list` and its concern rule) and the
overview (each group at a glance: concern counts, the week's sessions and whether a host is
in, facilitator load). Every read is given the viewer; no text, and a member's name only for
those who may see the group's roster."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation.models import Attendance, Session, SessionStatus
from facilitation.selectors import PRESENCE_WINDOW
from groups.models import Group, GroupRole, Membership, OrgRole, User
from groups.policies import Action, can, require
from project.models import AuditEntry
from safeguarding.models import Concern, ConcernStatus, Urgency
from safeguarding.policies import CONCERN_TARGET
from safeguarding.selectors import audit_list, late_q

# --- the audit page (issue 16, the lead's view) ----------------------------------------------

AUDIT_PAGE_ROWS = 100
AUDIT_EXPORT_MAX = 10_000


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page narrows the log by; every field optional."""

    person: int | None = None  # a staff account's id, or 0 for Haven itself (no actor)
    group: int | None = None
    concern: int | None = None
    session: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    """One entry as the page and its CSV show it: names instead of ids."""

    entry: AuditEntry
    who: str
    group: str
    about: str
    details: list[tuple[str, str]]


def audit_filtered(*, viewer: User, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """`audit_list` (the concern rule included) narrowed by person, group, concern, session."""
    entries = audit_list(
        viewer=viewer, action=filters.action, since=filters.since, until=filters.until
    )
    if filters.person == 0:
        entries = entries.filter(actor__isnull=True)
    elif filters.person is not None:
        entries = entries.filter(actor_id=filters.person)
    if filters.group is not None:
        entries = entries.filter(group_id=filters.group)
    if filters.concern is not None:
        entries = entries.filter(target_type=CONCERN_TARGET, target_id=str(filters.concern))
    if filters.session is not None:
        entries = entries.filter(
            Q(target_type="session", target_id=str(filters.session))
            | Q(extra__session_id=filters.session)
        )
    return entries


def audit_choices(*, viewer: User) -> dict[str, list[tuple[str, str]]]:
    """The page's filter choices: staff accounts, groups, and the actions in the log."""
    require(viewer, Action.AUDIT_VIEW)
    staff = User.objects.exclude(org_role=OrgRole.NONE).order_by("username")
    actions = (
        AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()[:300]
    )
    return {
        "people": [(str(u.pk), u.username) for u in staff],
        "groups": [(str(g.pk), g.name) for g in Group.objects.order_by("name")],
        "actions": [(a, a) for a in actions],
    }


def audit_named(*, viewer: User, entries: list[AuditEntry]) -> list[AuditRow]:
    """Names for a page of entries, in a few queries. Staff by username; a member by her name
    in that group only for those who may see the group's roster (a safeguarding lead is not
    told who is in a group: she reads "A member"); Haven itself when nobody acted."""
    group_ids = {e.group_id for e in entries if e.group_id is not None}
    groups = {g.pk: g for g in Group.objects.filter(pk__in=group_ids)}
    may_see = {gid for gid in group_ids if can(viewer, Action.ROSTER_VIEW, group=gid)}
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    users = {u.pk: u for u in User.objects.filter(pk__in=actor_ids).only("username", "org_role")}
    member_ids = {
        e.extra.get("member_id")
        for e in entries
        if isinstance(e.extra.get("member_id"), int) and e.group_id in may_see
    }
    names = {
        (m.user_id, m.group_id): m.display_name
        for m in Membership.objects.filter(user_id__in=actor_ids, group_id__in=may_see)
    }
    members = {
        m.pk: m.display_name
        for m in Membership.objects.filter(pk__in=member_ids, group_id__in=may_see)
    }
    session_ids = {
        int(e.target_id) if e.target_type == "session" and e.target_id.isdigit() else None
        for e in entries
    } | {e.extra.get("session_id") for e in entries if isinstance(e.extra.get("session_id"), int)}
    sessions = {
        s.pk: s.title for s in Session.objects.filter(pk__in=session_ids - {None}).only("title")
    }

    def who(entry: AuditEntry) -> str:
        if entry.actor_id is None:
            return _("Haven (automatic)") if entry.action != "account.erased" else _("Someone")
        user = users.get(entry.actor_id)
        if user is None:
            return _("Someone who left")
        if user.org_role != OrgRole.NONE:
            return user.username
        return names.get((user.pk, entry.group_id)) or _("A member")

    def about(entry: AuditEntry) -> str:
        kind, key = entry.target_type, entry.target_id
        if kind == "session" and key.isdigit() and int(key) in sessions:
            return _("Session: %(title)s") % {"title": sessions[int(key)]}
        if kind == CONCERN_TARGET:
            return _("Concern %(id)s") % {"id": key}
        if kind == "user" and key.isdigit() and int(key) in users:
            return _("Account: %(name)s") % {"name": users[int(key)].username}
        return f"{kind} {key}".strip()

    def details(entry: AuditEntry) -> list[tuple[str, str]]:
        shown = []
        for key, value in sorted(entry.extra.items()):
            if key == "member_id" and isinstance(value, int):
                value = members.get(value) or _("A member")
            elif key == "session_id" and isinstance(value, int) and value in sessions:
                value = sessions[value]
            shown.append((key.replace("_", " "), str(value)))
        return shown

    return [
        AuditRow(
            entry=e,
            who=who(e),
            group=groups[e.group_id].name if e.group_id in groups else "",
            about=about(e),
            details=details(e),
        )
        for e in entries
    ]


# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def _csv_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _when(row: AuditRow) -> str:
    return timezone.localtime(row.entry.at).strftime("%Y-%m-%d %H:%M:%S %Z")


def audit_csv(rows: list[AuditRow], out: Writable) -> None:
    """The audit export as CSV (the audit page's download, `manage.py audit_export`): the
    page's columns, a cell a spreadsheet would run as a formula made plain text."""
    writer = csv.writer(out)
    writer.writerow([_("When"), _("Who"), _("Action"), _("About"), _("Group"), _("Details")])
    for row in rows:
        details = "; ".join(f"{key}: {value}" for key, value in row.details)
        cells = [_when(row), row.who, row.entry.action, row.about, row.group, details]
        writer.writerow([_csv_cell(cell) for cell in cells])


def audit_json(rows: list[AuditRow]) -> list[dict[str, Any]]:
    """The audit export as JSON objects: the CSV's columns, with the entry's time in ISO 8601."""
    return [
        {
            "when": row.entry.at.isoformat(),
            "who": row.who,
            "action": row.entry.action,
            "about": row.about,
            "group": row.group,
            "details": dict(row.details),
        }
        for row in rows
    ]


# --- the lead's dashboard (issue 16) ---------------------------------------------------------


@dataclass(frozen=True)
class ConcernCounts:
    """How many open concerns a group has: urgent ones, and those past their answer-by time."""

    open: int
    urgent: int
    overdue: int


def concern_counts_by_group(*, viewer: User) -> dict[int, ConcernCounts]:
    """Open concerns per group, for the dashboard (`Action.DASHBOARD_VIEW`): counts only, never
    a concern's text or who raised it; each one is opened through the inbox, by its policy."""
    require(viewer, Action.DASHBOARD_VIEW)
    now = timezone.now()
    rows = (
        Concern.objects.exclude(status=ConcernStatus.CLOSED)
        .values("group_id")
        .annotate(
            open=Count("pk"),
            urgent=Count("pk", filter=Q(urgency=Urgency.URGENT)),
            # Past the answer-by time with nobody having acknowledged it, escalated by Haven
            # or not: a page load escalates an overdue one at once (`late_q`, not `overdue_q`).
            overdue=Count("pk", filter=late_q(now)),
        )
    )
    return {
        row["group_id"]: ConcernCounts(row["open"], row["urgent"], row["overdue"]) for row in rows
    }


def concerns_owned_by(*, viewer: User) -> dict[int, int]:
    """Open concerns each staff account has taken (`owner`), for the dashboard's load column."""
    require(viewer, Action.DASHBOARD_VIEW)
    rows = (
        Concern.objects.exclude(status=ConcernStatus.CLOSED)
        .filter(owner__isnull=False)
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    return {row["owner_id"]: row["n"] for row in rows}


class SessionGlance(NamedTuple):
    """One session of the week as the dashboard shows it: when, in which group, its state,
    and whether a host (a facilitator, or a co-host of it) is in its room now."""

    session_id: int
    group_id: int
    title: str
    starts_at: datetime
    status: str
    host_present: bool


def sessions_between(*, viewer: User, start: datetime, end: datetime) -> list[SessionGlance]:
    """Every group's sessions starting in [start, end) or running now, for the dashboard
    (`Action.DASHBOARD_VIEW`); never who is in them, only whether a host is."""
    require(viewer, Action.DASHBOARD_VIEW)
    running = [SessionStatus.OPEN, SessionStatus.LIVE, SessionStatus.PAUSED]
    sessions = list(
        Session.objects.filter(Q(starts_at__gte=start, starts_at__lt=end) | Q(status__in=running))
        .order_by("starts_at", "pk")
        .values("pk", "group_id", "title", "starts_at", "status")
    )
    live = [s["pk"] for s in sessions if s["status"] in running]
    fresh = Attendance.objects.filter(
        session_id__in=live,
        left_at__isnull=True,
        last_seen_at__gte=timezone.now() - PRESENCE_WINDOW,
    )
    hosted = set(
        fresh.filter(
            Q(membership__role=GroupRole.FACILITATOR)
            | Q(membership__co_hosted_sessions=F("session_id"))
        ).values_list("session_id", flat=True)
    )
    return [
        SessionGlance(
            session_id=s["pk"],
            group_id=s["group_id"],
            title=s["title"],
            starts_at=s["starts_at"],
            status=s["status"],
            host_present=s["pk"] in hosted,
        )
        for s in sessions
    ]
