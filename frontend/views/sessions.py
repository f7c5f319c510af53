"""A session's plan, and the live room's page (its client is static JavaScript)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.models import Mood, PlanItemKind, Session, SessionStatus
from facilitation.taxonomy import categories
from frontend.views._common import _error_text, _flash_errors, signed_in
from frontend.views.agreements import agreement_door
from groups import selectors as group_selectors
from groups.policies import Action, can, group_for
from project.exceptions import ApplicationError, ValidationFailed
from safeguarding.models import Category
from safeguarding.policies import concerns_visible_to


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
            # Retired categories show only on a row that already has them.
            "content_warnings": [(c.key, c.label, c.retired) for c in categories()],
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
    if me is not None:
        # Issue 16: read what changed and accept at the door, not on the group page.
        door = agreement_door(request, session=session, membership=me)
        if door is not None:
            return door
    preferences = session_selectors.preferences_effective(user)["content_warnings"]
    config = {
        "session_id": session.pk,
        "group_id": session.group_id,
        "member_id": me.pk if me else None,
        "preferences": preferences,
        # Every category labels messages; a retired one is not offered (room.js).
        "content_warnings": [
            {"key": c.key, "label": c.label, "retired": c.retired} for c in categories()
        ],
        "categories": [{"key": key, "label": str(label)} for key, label in Category.choices],
        "is_facilitator": can(user, Action.SESSION_END, session=session),
        # The plan to step through, with its notes for hosts: hosts only (issue 16).
        "plan": session_selectors.room_plan(viewer=user, session=session),
        # Where its hosts land once they end it (issue 16); null for anyone else.
        "summary_url": reverse("session-summary", args=[session.pk])
        if can(user, Action.REGISTER_VIEW, session=session)
        else None,
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


# --- afterwards (issue 16) -------------------------------------------------------------------

# Where each summary form's field is, for the error summary's links.
SUMMARY_FIELDS = {"debrief": "debrief-body", "handover": "handover-body", "talk": "talk-lead"}
SUMMARY_DONE = {
    "follow_ups": gettext_lazy("Follow-ups saved."),
    "debrief": gettext_lazy(
        "Debrief note saved. Only the group's facilitators and the leads can read it."
    ),
    "handover": gettext_lazy("Handover note saved. It shows on the group page."),
    "talk": gettext_lazy("Your request has been sent. The lead you chose will be in touch."),
}


def _concerns_raised(viewer: Any, session: Session, member_ids: list[int]) -> dict[int, int]:
    """How many concerns each person raised during the session, counting only those `viewer`
    may see (the safeguarding app's own rule); never their text."""
    started = session_selectors.session_started_at(session.pk)
    ended = session_selectors.session_ended_at(session)
    rows = (
        concerns_visible_to(viewer)
        .filter(group_id=session.group_id, reporter_id__in=member_ids)
        .filter(Q(created_at__gte=started, created_at__lte=ended) | Q(messages__session=session))
        .values_list("reporter_id", "pk")
        .distinct()
    )
    counts: dict[int, int] = {}
    for reporter_id, _pk in rows:
        counts[reporter_id] = counts.get(reporter_id, 0) + 1
    return counts


def _summary_post(request: HttpRequest, session: Session) -> dict[str, str] | None:
    """Run the posted summary form; None when done, else the form's values and its error."""
    user, post = request.user, request.POST
    form = post.get("form", "")
    calls = {
        "follow_ups": lambda: session_services.follow_ups_save(
            actor=user, session=session, done=post.getlist("done")
        ),
        "debrief": lambda: session_services.debrief_write(
            actor=user, session=session, body=post.get("body", "")
        ),
        "handover": lambda: session_services.handover_write(
            actor=user, session=session, body=post.get("body", "")
        ),
        "talk": lambda: session_services.talk_request(
            actor=user, session=session, lead_id=post.get("lead", "")
        ),
    }
    if form not in calls:
        raise ValidationFailed({"form": [_("Something went wrong. Please try again.")]})
    try:
        calls[form]()
    except ValidationFailed as exc:
        return {"form": form, "body": post.get("body", ""), "error": _error_text(exc)}
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return {"form": form, "body": post.get("body", ""), "error": exc.message}
    # Said in the part she saved, where the page lands (a fragment), not above the fold.
    request.session["summary_done"] = form
    return None


@signed_in
@require_http_methods(["GET", "POST"])
def session_summary(request: HttpRequest, session_id: int) -> HttpResponse:
    """After a session: the register, follow-ups, debrief notes, the handover note and "I
    would like to talk to someone", each part for those the policy lets see it."""
    user = request.user
    session, rights = session_services.summary_get_for(viewer=user, session_id=session_id)
    failed = None
    if request.method == "POST":
        failed = _summary_post(request, session)
        if failed is None:
            anchor = request.POST.get("form", "").replace("_", "-")
            return redirect(reverse("session-summary", args=[session.pk]) + f"#{anchor}")
    ended = session.status == SessionStatus.ENDED
    done = request.session.pop("summary_done", None) if request.method == "GET" else None
    context: dict[str, Any] = {
        "session": session,
        "rights": rights,
        "ended": ended,
        "done": {"form": done, "text": SUMMARY_DONE[done]} if done in SUMMARY_DONE else None,
    }
    if rights["register"]:
        rows = session_services.register(viewer=user, session=session)
        counts = _concerns_raised(user, session, [row.membership.pk for row in rows])
        context["register"] = [
            replace(row, concerns=counts.get(row.membership.pk, 0)) for row in rows
        ]
    if rights["follow_ups"]:
        context["follow_ups"] = session_services.follow_ups(viewer=user, session=session)
    if rights["debrief_read"]:
        context["debriefs"] = session_services.debriefs_read(actor=user, session=session)
        context["handover"] = session_selectors.handover_for(session=session)
    if rights["talk"]:
        context["leads"] = list(session_selectors.safeguarding_leads())
    if failed is not None:
        context["failed"] = failed
        anchor = SUMMARY_FIELDS.get(failed["form"], failed["form"].replace("_", "-"))
        context["errors"] = [(anchor, failed["error"])]
    return render(
        request, "frontend/summary.html", context, status=400 if failed is not None else 200
    )


@signed_in
@require_http_methods(["GET", "POST"])
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    """ "End the session for everyone?" (issue 17): a GOV.UK confirmation page reached from the
    room's "End session". Nothing happens on the way here; "End the session" ends it through
    `session_set_status` (who may, and the room's realtime end, are decided there) and lands
    on the summary. Anyone who may not host the session gets 404 or 403 as for its plan."""
    user = request.user
    session = session_selectors.session_get_for(
        viewer=user, session_id=session_id, action=Action.SESSION_HOST
    )
    after = (
        reverse("session-summary", args=[session.pk])
        if can(user, Action.REGISTER_VIEW, session=session)
        else reverse("room", args=[session.pk])
    )
    if session.status == SessionStatus.ENDED and request.method == "GET":
        return redirect(after)
    error = ""
    if request.method == "POST":
        try:
            session_services.session_set_status(
                actor=user, session=session, status=SessionStatus.ENDED
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            error = (
                _("A facilitator is in the room: only they can end the session now.")
                if exc.status == 403
                else _error_text(exc)
            )
        else:
            return redirect(after)
    return render(
        request,
        "frontend/session_end.html",
        {"session": session, "error": error},
        status=400 if error else 200,
    )


@signed_in
def past_sessions(request: HttpRequest, group_id: int) -> HttpResponse:
    """A group's ended sessions, the latest first, each with its summary (and, for those who
    read check-ins, "How people were")."""
    user = request.user
    group = group_for(user, group_id, Action.PAST_SESSIONS_VIEW)
    return render(
        request,
        "frontend/past_sessions.html",
        {
            "group": group,
            "sessions": session_selectors.past_sessions(viewer=user, group=group),
            "reads_checkins": can(user, Action.CHECKIN_READ, group=group),
        },
    )
