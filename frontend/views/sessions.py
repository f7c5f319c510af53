"""A session's plan, and the live room's page (its client is static JavaScript)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.models import Mood, PlanItemKind
from facilitation.taxonomy import CONTENT_WARNINGS
from frontend.views._common import _flash_errors, signed_in
from groups import selectors as group_selectors
from groups.policies import Action, can
from safeguarding.models import Category


@signed_in
@require_http_methods(["GET", "POST"])
def session_plan(request: HttpRequest, session_id: int) -> HttpResponse:
    user = request.user
    session = session_selectors.session_get_for(
        viewer=user, session_id=session_id, action=Action.SESSION_HOST
    )
    if request.method == "POST":
        rows = _plan_rows_posted(request.POST)
        items = [
            {key: row[key] for key in ("title", "kind", "minutes", "notes", "content_warnings")}
            for row in rows
            if row["title"]
        ]
        if _flash_errors(
            request,
            lambda: session_services.plan_replace(actor=user, session=session, items=items),
            _("Plan saved."),
        ):
            return redirect("session-plan", session_id=session.pk)
        # Refused: everything she wrote stays on the page, with the reason at the top.
        status = 400
    else:
        rows = [
            {
                "title": item.title,
                "kind": item.kind,
                "minutes": item.minutes,
                "notes": item.notes,
                "content_warnings": list(item.content_warnings or []),
            }
            for item in session_selectors.plan_items(viewer=user, session=session)
        ]
        status = 200
    rows += [
        {"title": "", "kind": "", "minutes": 10, "notes": "", "content_warnings": [], "new": True}
        for _blank in range(max(3, 8 - len(rows)))
    ]
    return render(
        request,
        "frontend/plan.html",
        {
            "session": session,
            "rows": rows,
            "kinds": PlanItemKind.choices,
            "content_warnings": [(key, _(label)) for key, label, _d in CONTENT_WARNINGS],
        },
        status=status,
    )


def _plan_rows_posted(post: QueryDict) -> list[dict[str, Any]]:
    """The plan form's rows as posted, in order; row `i`'s content warnings are the ticked
    `cw-i` boxes (a row's boxes must carry its number: unticked boxes are not posted)."""
    titles, kinds = post.getlist("title"), post.getlist("kind")
    minutes, notes = post.getlist("minutes"), post.getlist("notes")
    rows = []
    for index, title in enumerate(titles):
        given = minutes[index] if index < len(minutes) else ""
        rows.append(
            {
                "title": title.strip(),
                "kind": kinds[index] if index < len(kinds) else "",
                "minutes": int(given) if given.isdigit() else 0,
                "notes": notes[index] if index < len(notes) else "",
                "content_warnings": post.getlist(f"cw-{index}"),
            }
        )
    return rows


@signed_in
def room(request: HttpRequest, session_id: int) -> HttpResponse:
    user = request.user
    session = session_selectors.session_get_for(viewer=user, session_id=session_id)
    membership = group_selectors.memberships_by_group(viewer=user, group_ids=[session.group_id])
    me = membership.get(session.group_id)
    preferences = session_selectors.preferences_effective(user)["content_warnings"]
    config = {
        "session_id": session.pk,
        "group_id": session.group_id,
        "member_id": me.pk if me else None,
        "preferences": preferences,
        "content_warnings": [
            {"key": key, "label": _(label)} for key, label, _description in CONTENT_WARNINGS
        ],
        "categories": [{"key": key, "label": str(label)} for key, label in Category.choices],
        "is_facilitator": can(user, Action.SESSION_END, session=session),
        # Her standing notices, whether it has ended and what comes next, her own pseudonym,
        # the organisation's urgent help ("I'm not safe right now" shows it at once).
        **session_selectors.room_page(viewer=user, session=session),
    }
    return render(
        request,
        "frontend/room.html",
        {"session": session, "config": json.dumps(config), "group_id": session.group_id},
    )


@signed_in
def session_checkins(request: HttpRequest, session_id: int) -> HttpResponse:
    """How people were: every check-in of a session for its group's facilitators, those who
    arrived or left struggling first, so someone can follow up. Each read is audited."""
    user = request.user
    session = session_selectors.session_get_for(viewer=user, session_id=session_id)
    rows = session_services.checkins_read(actor=user, session=session)
    follow_up = [row for row in rows if row.mood == Mood.STRUGGLING]
    return render(
        request,
        "frontend/checkins.html",
        {"session": session, "checkins": rows, "follow_up": follow_up},
    )
