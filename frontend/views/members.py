"""Issue 16 pages around the group page: the new-invite page that shows codes once (Copy,
Print a card, advice on a safe handover), the pause-or-remove confirmation, and a member's
record for staff. They call the same services and selectors as the REST API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from facilitation import selectors as session_selectors
from frontend.views._common import _error_text, signed_in
from frontend.views.groups import SHOW_ONCE_KEY, _is_self
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import GroupRole, MembershipStatus, OrgRole
from groups.policies import Action, can, group_for
from project.exceptions import ApplicationError, ValidationFailed
from safeguarding import selectors as safeguarding_selectors

# --- issue 16: invites handed over safely ----------------------------------------------------


def _neutral_address(request: HttpRequest) -> str:
    """What the card says to go to: the organisation's neutral address, or this site's own
    join page (HAVEN_NEUTRAL_ADDRESS; never what Haven is for)."""
    return settings.HAVEN_NEUTRAL_ADDRESS or request.build_absolute_uri(reverse("join"))


@signed_in
@require_http_methods(["GET"])
def invite_created(request: HttpRequest, group_id: int) -> HttpResponse:
    """The codes just made, shown this once (a reload shows that they are gone), with Copy,
    Print a card and advice on a safe handover."""
    found = group_for(request.user, group_id, Action.INVITE_MANAGE)
    shown = request.session.pop(SHOW_ONCE_KEY, None)
    if not isinstance(shown, dict) or shown.get("group") != found.pk:
        shown = None
    # Pages are sent with no-store (a middleware), so the codes stay out of caches and history.
    return render(
        request,
        "frontend/invite_created.html",
        {
            "group": found,
            "shown": shown,
            "codes": shown["codes"] if shown else [],
            "expires_at": _parse_moment(shown["expires_at"]) if shown else None,
            "address": _neutral_address(request),
        },
    )


def _parse_moment(value: str) -> Any:
    return parse_datetime(value or "")


# --- issue 16: pausing or removing a member, and her record -----------------------------------

DECIDE_FIELDS = {
    "decision": "decision-pause",
    "weeks": "weeks",
    "reason": "reason",
    "message": "message",
}


def _member_to_decide(request: HttpRequest, found: Any, member_id: int) -> Any:
    """An active member of the group other than the facilitator herself, or 404."""
    target = (
        group_selectors.roster_list(viewer=request.user, group=found).filter(pk=member_id).first()
    )
    if target is None or _is_self(request, found, member_id):
        raise Http404()
    return target


@signed_in
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, group_id: int, member_id: int) -> HttpResponse:
    """ "Pause or remove": the GOV.UK confirmation before anything happens to her."""
    found = group_for(request.user, group_id, Action.MEMBER_REMOVE)
    target = _member_to_decide(request, found, member_id)
    values = {"decision": "", "weeks": "4", "reason": "", "message": ""}
    errors: dict[str, Any] | None = None
    if request.method == "POST":
        post = request.POST
        values = {name: post.get(name, "") for name in values}
        weeks: Any = values["weeks"]
        try:
            decided = group_services.member_decide(
                actor=request.user,
                group=found,
                member_id=target.pk,
                decision=values["decision"],
                weeks=int(weeks) if weeks.strip().isdigit() else weeks,
                reason=values["reason"],
                message=values["message"],
            )
        except ValidationFailed as exc:
            errors = _decide_errors(exc, values)
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            messages.error(request, _error_text(exc))
            return redirect("group", group_id=found.pk)
        else:
            if values["decision"] == "pause":
                done = _("%(name)s is paused. She can come back on %(date)s.") % {
                    "name": target.display_name,
                    "date": date_format(timezone.localtime(decided.until), "j F Y"),
                }
            else:
                done = _("%(name)s has been removed from the group.") % {
                    "name": target.display_name
                }
            messages.success(request, done)
            # A fragment of its own: the browser would otherwise keep "#reason" from the form.
            return HttpResponseRedirect(reverse("group", args=[found.pk]) + "#main")
    return render(
        request,
        "frontend/member_remove.html",
        {
            "group": found,
            "target": target,
            "form": values,
            "errors": errors,
            "weeks_choices": range(
                group_services.PAUSE_WEEKS_MIN, group_services.PAUSE_WEEKS_MAX + 1
            ),
            "reason_max": group_services.DECISION_REASON_MAX,
            "message_max": group_services.DECISION_MESSAGE_MAX,
        },
        status=400 if errors else 200,
    )


def _decide_errors(exc: ValidationFailed, values: dict[str, str]) -> dict[str, Any]:
    fields = exc.extra.get("fields", {}) if isinstance(exc.extra, dict) else {}
    about = {
        "reason": _("The reason: %(error)s"),
        "message": _("Your message to her: %(error)s"),
    }
    texts: dict[str, str] = {}
    for name, msgs in fields.items():
        joined = " ".join(str(m) for m in msgs)
        if name == "reason" and not values["reason"].strip():
            texts[name] = joined
        else:
            texts[name] = about.get(name, "%(error)s") % {"error": joined}
    return {
        "fields": texts,
        "summary": [(DECIDE_FIELDS.get(name, "reason"), text) for name, text in texts.items()],
    }


@signed_in
@require_http_methods(["GET"])
def member_history(request: HttpRequest, group_id: int, member_id: int) -> HttpResponse:
    """One member's record in the group, for facilitators (and admins): joined when and with
    which invite, sessions she came to, moderation she received, support requests, concerns
    by and about her as the concern policy lets the viewer see them, and the decisions about
    her with their staff-only reasons. Opening it is audited (without any text)."""
    user = request.user
    found = group_for(user, group_id, Action.MEMBER_HISTORY)
    target = group_selectors.member_for_history(viewer=user, group=found, member_id=member_id)
    record = group_services.member_history_read(actor=user, group=found, membership=target)
    activity = session_selectors.member_activity(viewer=user, group=found, membership=target)
    # Concerns follow safeguarding.policies: only those this viewer may see at all.
    concerns = list(
        safeguarding_selectors.concern_list(viewer=user)
        .filter(group=found)
        .filter(Q(reporter=target) | Q(about=target))
        .order_by("-created_at")[:50]
    )
    return render(
        request,
        "frontend/member_history.html",
        {
            "group": found,
            "target": target,
            "record": record,
            "activity": activity,
            "concerns_by": [c for c in concerns if c.reporter_id == target.pk],
            "concerns_about": [c for c in concerns if c.about_id == target.pk],
            "paused": target.status == MembershipStatus.PAUSED,
            # Issue 17: help from other services suggested for her (status, never her words).
            "referrals": (
                list(
                    safeguarding_selectors.referrals_of_group(
                        viewer=user, group_id=found.pk, member=target
                    )[:20]
                )
                if can(user, Action.REFERRAL_PROPOSE, group=found)
                else None
            ),
            "may_refer": target.is_active
            and target.role != GroupRole.FACILITATOR
            and can(user, Action.REFERRAL_PROPOSE, group=found),
            # Her facilitators and admins give a member who forgot her password a one-time
            # code (issues 16, 17).
            "may_reset": can(user, Action.MEMBER_RESET_CODE, group=found)
            and target.user is not None
            and target.user.org_role == OrgRole.NONE
            and target.user.is_active,
        },
    )
