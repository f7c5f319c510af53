"""The agreement's pages (issue 16): publishing a new version after checking what it changes,
and reading and accepting the agreement at a room's door instead of on the group page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from facilitation.agreements import agreement_admits_to
from facilitation.models import Session
from frontend.views._common import signed_in
from groups import selectors as group_selectors
from groups.models import Group, Membership, User
from groups.policies import Action, can, group_for
from groups.services.agreements import (
    AGREEMENT_POINT_MAX,
    agreement_accept,
    agreement_changes,
    agreement_preview,
    agreement_publish,
)
from project.exceptions import Conflict, NotFound, ValidationFailed


def _lines(text: str) -> list[str]:
    """One point per line; empty lines are dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


def _field_text(exc: ValidationFailed) -> str:
    """Every message about the points as one sentence; a point's own names its line."""
    fields = exc.extra.get("fields", {}) if isinstance(exc.extra, dict) else {}
    words = []
    for name, texts in fields.items():
        line = name.removeprefix("points.")
        for text in texts:
            if line.isdigit():
                text = _("Line %(n)s: %(text)s") % {"n": int(line) + 1, "text": text}
            words.append(text)
    return " ".join(words) or exc.message


@signed_in
@require_http_methods(["GET", "POST"])
def agreement_publish_page(request: HttpRequest, group_id: int) -> HttpResponse:
    """Write the next version (pre-filled with the current points and every point adopted
    since), check what it changes, then "Publish version N" or "Go back"."""
    user = request.user
    found = group_for(user, group_id)
    if not can(user, Action.AGREEMENT_PUBLISH, group=found):
        raise Http404()  # a page she may not use is a page that is not there
    post = request.POST
    step = post.get("step", "")
    text = post.get("points", "") if request.method == "POST" else ""
    if request.method == "GET":
        text = "\n".join(group_selectors.agreement_draft(viewer=user, group=found))
    context: dict[str, Any] = {"group": found, "text": text, "point_max": AGREEMENT_POINT_MAX}
    if step not in {"check", "publish"}:  # the form (first visit, or "Go back")
        return render(request, "frontend/agreement_publish.html", context)
    try:
        preview = agreement_preview(actor=user, group=found, points=_lines(text))
    except ValidationFailed as exc:
        context["error"] = _field_text(exc)
        return render(request, "frontend/agreement_publish.html", context, status=400)
    context.update(preview=preview, text="\n".join(preview.points))
    if step == "publish":
        try:
            agreement_publish(
                actor=user,
                group=found,
                points=preview.points,
                version=_number(post.get("version", "")),
            )
        except Conflict:
            context["changed_meanwhile"] = True
            return render(request, "frontend/agreement_publish.html", context, status=409)
        messages.success(
            request,
            _("Version %(v)s is published. Everyone will be asked to accept it.")
            % {"v": preview.version},
        )
        return redirect(reverse("group", args=[found.pk]) + "#agreement")
    return render(request, "frontend/agreement_publish.html", context)


def agreement_door(
    request: HttpRequest, *, session: Session, membership: Membership
) -> HttpResponse | None:
    """The room's door: None when the agreement lets her in (`groups.selectors.
    agreement_admits`); otherwise what changed since the version she accepted and "I accept".
    Accepting (a POST to the room's own address) sends her straight into the room."""
    user: User = request.user  # type: ignore[assignment]
    group = Group.objects.get(pk=session.group_id)
    error = ""
    if request.method == "POST":
        try:
            agreement_accept(
                actor=user, group=group, version=_number(request.POST.get("version", ""))
            )
        except Conflict:
            error = _("The agreement changed while you were reading it. Please read it again.")
        except (ValidationFailed, NotFound):
            error = _("Something went wrong. Please press “I accept” again.")
        else:
            return redirect("room", session_id=session.pk)
    elif agreement_admits_to(membership, [session])[session.pk]:
        return None
    current = group_selectors.agreement_current(group)
    if current is None:  # nothing to accept: the rule lets her in
        return None
    before = group_selectors.agreement_accepted_version(membership)
    changes = agreement_changes(list(before.points), list(current.points)) if before else None
    return render(
        request,
        "frontend/agreement_door.html",
        {
            "session": session,
            "agreement": current,
            "before": before,
            "changes": changes,
            "error": error,
        },
        status=409 if error else 200,
    )
