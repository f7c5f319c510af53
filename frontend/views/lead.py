"""The dashboard, for safeguarding leads and admins: every group at a glance (open, urgent and
overdue concerns as counts; the week's sessions, which are running and whether a host is in;
who facilitates it) and each facilitator's load. No text and no member's name; anyone else
gets 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from frontend.views._common import signed_in
from groups import selectors as group_selectors
from groups.models import Group, User
from groups.policies import Action, can
from safeguarding import oversight
from safeguarding.oversight import ConcernCounts, SessionGlance

WEEK = timedelta(days=7)
NO_CONCERNS = ConcernCounts(open=0, urgent=0, overdue=0)


@dataclass(frozen=True)
class GroupGlance:
    group: Group
    concerns: ConcernCounts
    sessions: list[SessionGlance]
    facilitators: list[User]

    @property
    def unhosted(self) -> int:
        return sum(1 for s in self.sessions if s.status == "live" and not s.host_present)


@dataclass(frozen=True)
class Load:
    person: User
    groups: int
    sessions: int
    concerns_taken: int


@require_GET
@signed_in
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, Action.DASHBOARD_VIEW):
        raise Http404()
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    counts = oversight.concern_counts_by_group(viewer=user)
    owned = oversight.concerns_owned_by(viewer=user)
    sessions = oversight.sessions_between(viewer=user, start=start, end=start + WEEK)
    facilitators = group_selectors.facilitators_by_group(viewer=user)
    glances = [
        GroupGlance(
            group=group,
            concerns=counts.get(group.pk, NO_CONCERNS),
            sessions=[s for s in sessions if s.group_id == group.pk],
            facilitators=facilitators.get(group.pk, []),
        )
        for group in group_selectors.group_list_for(viewer=user).order_by("name")
    ]
    # Whoever needs looking at first: overdue, then urgent, then a live room with no host.
    glances.sort(key=lambda g: (-g.concerns.overdue, -g.concerns.urgent, -g.unhosted))
    people: dict[int, User] = {}
    groups_of: dict[int, set[int]] = {}
    for group_id, staff in facilitators.items():
        for person in staff:
            people[person.pk] = person
            groups_of.setdefault(person.pk, set()).add(group_id)
    load = sorted(
        (
            Load(
                person=person,
                groups=len(groups_of[pk]),
                sessions=sum(1 for s in sessions if s.group_id in groups_of[pk]),
                concerns_taken=owned.get(pk, 0),
            )
            for pk, person in people.items()
        ),
        key=lambda row: (-row.concerns_taken, -row.sessions, row.person.username),
    )
    return render(request, "frontend/dashboard.html", {"glances": glances, "load": load})
