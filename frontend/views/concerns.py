"""Concerns: the inbox, raising one, one concern with its private thread and staff notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from facilitation.taxonomy import warning_labels
from frontend.views._common import _error_text, _flash_errors, signed_in
from groups import selectors as group_selectors
from project.exceptions import ApplicationError
from safeguarding import policies as concern_policies
from safeguarding import selectors as concern_selectors
from safeguarding import services as concern_services
from safeguarding.models import Category, ConcernStatus, Urgency
from safeguarding.selectors import InboxRow


def _with_age(rows: list[InboxRow], now: datetime) -> list[tuple[InboxRow, str]]:
    """Each row with how long ago it was raised, in words ("2 hours ago")."""
    return [
        (row, _("%(age)s ago") % {"age": timesince(row.concern.created_at, now, depth=1)})
        for row in rows
    ]


# Where each field of the raise form is, for the error summary's links (issue 17).
RAISE_FIELDS = {
    "group_id": "c-group",
    "to_lead": "c-to-group",
    "category": "c-cat",
    "body": "c-body",
    "urgency": "c-urg",
    "share_with_peer_mentors": "c-share",
}


@signed_in
def concerns(request: HttpRequest) -> HttpResponse:
    return _concerns_page(request)


def _concerns_page(
    request: HttpRequest,
    *,
    errors: list[tuple[str, str]] | None = None,
    kept: dict[str, Any] | None = None,
) -> HttpResponse:
    """The concerns page; with `errors` and the form `kept` as she filled it, a 400."""
    user = request.user
    found = concern_selectors.concern_inbox(viewer=user)
    rows = [
        group_selectors.group_row(g)
        for g in group_selectors.group_list_with_membership(viewer=user)
    ]
    leads_only = concern_policies.LEADS_ONLY["category"]
    response = render(
        request,
        "frontend/concerns.html",
        {
            "mine": [(c, concern_selectors.has_unread_answer(c)) for c in found.mine],
            "inbox": found.inbox,
            # "New to you" (a lead's escalated concerns not opened yet) above "To answer".
            "sections": [
                (key, heading, hint, _with_age(rows, found.now))
                for key, heading, hint, rows in (
                    (
                        "new",
                        _("New to you"),
                        _("Escalated to the safeguarding leads. You have not opened these yet."),
                        found.new_to_you,
                    ),
                    (
                        "inbox",
                        _("To answer"),
                        _("Urgent first, then by the time to answer by."),
                        found.inbox,
                    ),
                )
                if rows
            ],
            "now": found.now,
            # Where she may raise one: the groups she is in.
            "groups": [row for row in rows if row.membership is not None],
            # "How the group is run" is the safeguarding lead's: the route choice says it.
            "categories": [(v, label) for v, label in Category.choices if v != leads_only],
            "urgencies": Urgency.choices,
            "errors": [(RAISE_FIELDS[field], text) for field, text in errors or []],
            "field_errors": dict(errors or []),
            "kept": kept or {"urgency": Urgency.NORMAL, "to": "group"},
        },
    )
    if errors:
        response.status_code = 400
    return response


@signed_in
@require_POST
def concern_new(request: HttpRequest) -> HttpResponse:
    post = request.POST
    to = post.get("to", "group")
    kept = {
        "group_id": post.get("group_id", ""),
        "to": to,
        "category": post.get("category", ""),
        "body": post.get("body", ""),
        "urgency": post.get("urgency", Urgency.NORMAL),
        "share": post.get("share_with_peer_mentors") == "on",
    }
    if to not in ("group", "lead"):
        return _concerns_page(
            request, errors=[("to_lead", _("Choose who it should go to."))], kept=kept
        )
    try:
        concern = concern_services.concern_raise(
            actor=request.user,
            group_id=post.get("group_id"),
            category=post.get("category"),
            body=post.get("body", ""),
            urgency=post.get("urgency", Urgency.NORMAL),
            share_with_peer_mentors=kept["share"],
            to_lead=to == "lead",
        )
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
        if exc.status != 400 or not fields:
            messages.error(request, _error_text(exc))
            return redirect("concerns")
        errors = [
            (field if field in RAISE_FIELDS else "body", " ".join(texts))
            for field, texts in fields.items()
        ]
        return _concerns_page(request, errors=errors, kept=kept)
    messages.success(
        request,
        _("Thank you for telling us. The safeguarding lead will answer you here.")
        if concern.leads_from_start
        else _("Thank you for telling us. A facilitator will answer you here."),
    )
    return redirect("concern", concern_id=concern.pk)


@signed_in
@require_http_methods(["GET", "POST"])
def concern(request: HttpRequest, concern_id: int) -> HttpResponse:
    user = request.user
    note_error: str | None = None
    note_text = ""
    if request.method == "POST":
        post = request.POST
        action = post.get("action")
        if action == "reply":
            _flash_errors(
                request,
                lambda: concern_services.concern_reply(
                    actor=user, concern_id=concern_id, body=post.get("body", "")
                ),
                _("Sent."),
            )
        elif action == "status":
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
        elif action == "take":
            _flash_errors(
                request,
                lambda: concern_services.concern_take(actor=user, concern_id=concern_id),
                _("It is yours now. The other staff can see you have taken it."),
            )
            if post.get("back") == "inbox":
                return redirect("concerns")
        elif action == "note":
            note_text = post.get("body", "")
            try:
                concern_services.concern_note_add(actor=user, concern_id=concern_id, body=note_text)
            except ApplicationError as exc:
                if exc.status == 404:
                    raise
                note_error = _error_text(exc)
            else:
                messages.success(request, _("Staff note saved. Only staff see it."))
                return redirect("concern", concern_id=concern_id)
        if note_error is None:
            return redirect("concern", concern_id=concern_id)
    found, role = concern_selectors.concern_detail(viewer=user, concern_id=concern_id)
    moves = concern_policies.concern_moves(found, role)
    # Only those who handle it get the messages she referred to (None for her who raised it).
    referred = concern_selectors.concern_messages(concern=found, role=role) or []
    # Only those who move it get the staff notes (None for her who raised it, and peer mentors).
    notes = concern_selectors.concern_notes(concern=found, role=role)
    warnings = warning_labels()
    handling = role != concern_policies.ConcernRole.REPORTER
    response = render(
        request,
        "frontend/concern.html",
        {
            "concern": found,
            "role": str(role),
            "moves": [(s, ConcernStatus(s).label) for s in ConcernStatus.values if s in moves],
            "history": found.history.all(),
            "replies": found.replies.all(),
            "overdue": concern_selectors.is_overdue(found),
            "owner_name": concern_selectors.owner_names([found]).get(found.pk)
            if handling
            else None,
            "may_take": found.status != ConcernStatus.CLOSED
            and found.owner_id != user.pk
            and role in concern_policies.TAKERS,
            "notes": notes,
            # Hers: how soon we aim to answer, from the settings (issue 17).
            "reply_time": concern_selectors.reply_time(found.urgency)
            if role == concern_policies.ConcernRole.REPORTER
            and found.status != ConcernStatus.CLOSED
            else None,
            "note_error": note_error,
            "note_text": note_text,
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
    if note_error is not None:
        response.status_code = 400
    return response
