"""Concerns: the list, raising one, one concern and its private thread."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from facilitation.taxonomy import CONTENT_WARNINGS
from frontend.views._common import _flash_errors, signed_in
from groups import selectors as group_selectors
from safeguarding import policies as concern_policies
from safeguarding import selectors as concern_selectors
from safeguarding import services as concern_services
from safeguarding.models import Category, ConcernStatus, Urgency


@signed_in
def concerns(request: HttpRequest) -> HttpResponse:
    user = request.user
    found = concern_selectors.concern_inbox(viewer=user)
    rows = [
        group_selectors.group_row(g)
        for g in group_selectors.group_list_with_membership(viewer=user)
    ]
    return render(
        request,
        "frontend/concerns.html",
        {
            "mine": found.mine,
            "inbox": found.inbox,
            "now": found.now,
            # Where she may raise one: the groups she is in.
            "groups": [row for row in rows if row.membership is not None],
            "categories": Category.choices,
            "urgencies": Urgency.choices,
        },
    )


@signed_in
@require_POST
def concern_new(request: HttpRequest) -> HttpResponse:
    post = request.POST
    created: dict[str, Any] = {}

    def raise_it() -> None:
        created["concern"] = concern_services.concern_raise(
            actor=request.user,
            group_id=post.get("group_id"),
            category=post.get("category"),
            body=post.get("body", ""),
            urgency=post.get("urgency", Urgency.NORMAL),
            share_with_peer_mentors=post.get("share_with_peer_mentors") == "on",
        )

    if _flash_errors(
        request, raise_it, _("Thank you for telling us. A facilitator will answer you here.")
    ):
        return redirect("concern", concern_id=created["concern"].pk)
    return redirect("concerns")


@signed_in
@require_http_methods(["GET", "POST"])
def concern(request: HttpRequest, concern_id: int) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        post = request.POST
        if post.get("action") == "reply":
            _flash_errors(
                request,
                lambda: concern_services.concern_reply(
                    actor=user, concern_id=concern_id, body=post.get("body", "")
                ),
                _("Sent."),
            )
        elif post.get("action") == "status":
            _flash_errors(
                request,
                lambda: concern_services.concern_set_status(
                    actor=user,
                    concern_id=concern_id,
                    status=post.get("status"),
                    note_to_reporter=post.get("note_to_reporter") or None,
                ),
                _("Status changed."),
            )
        return redirect("concern", concern_id=concern_id)
    found, role = concern_selectors.concern_detail(viewer=user, concern_id=concern_id)
    moves = concern_policies.concern_moves(found, role)
    # Only those who handle it get the messages she referred to (None for her who raised it).
    referred = concern_selectors.concern_messages(concern=found, role=role) or []
    warnings = {key: _(label) for key, label, _d in CONTENT_WARNINGS}
    return render(
        request,
        "frontend/concern.html",
        {
            "concern": found,
            "role": str(role),
            "moves": [(s, ConcernStatus(s).label) for s in ConcernStatus.values if s in moves],
            "history": found.history.all(),
            "replies": found.replies.all(),
            "overdue": concern_selectors.is_overdue(found),
            "referred": [
                {
                    "message": message,
                    "warning": warnings.get(message.content_warning["category"])
                    if message.content_warning
                    else None,
                }
                for message in referred
            ],
        },
    )
