"""Staff accounts, for the organisation's admins: the list, adding someone (her first password,
authenticator key and recovery codes shown once), changing a role, switching an account off
(after a confirmation page) or on; and, from a member's record, a one-time reset code for a
member who forgot her password. Anyone else gets 404, as if the pages did not exist."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from frontend.views._common import View, _flash_errors, signed_in
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import OrgRole, User
from groups.policies import STAFF_ROLES, Action, can, group_for
from groups.services import staff as staff_services
from groups.services.accounts import RESET_CODE_HOURS
from project.exceptions import Conflict, ValidationFailed

ROLE_CHOICES = [(role, OrgRole(role).label) for role in STAFF_ROLES]


def admins_only(view: View) -> View:
    """Signed in, and an admin of the organisation; anyone else: 404."""

    @signed_in
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can(request.user, Action.STAFF_MANAGE):
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapper


def _staff_page(
    request: HttpRequest,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "frontend/staff.html",
        {
            "staff": group_selectors.staff_list(viewer=request.user),
            "roles": ROLE_CHOICES,
            "values": values or {"username": "", "role": OrgRole.FACILITATOR},
            "errors": errors or {},
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@admins_only
def staff(request: HttpRequest) -> HttpResponse:
    """The staff list and "Add a staff member"; after adding, her first sign-in details, once."""
    if request.method == "GET":
        return _staff_page(request)
    values = {
        "username": request.POST.get("username", "").strip(),
        "role": request.POST.get("role", ""),
    }
    try:
        added = staff_services.staff_add(
            actor=request.user, username=values["username"], role=values["role"]
        )
    except ValidationFailed as exc:
        fields = exc.extra.get("fields", {})
        errors = {name: " ".join(str(m) for m in msgs) for name, msgs in fields.items()}
        return _staff_page(request, values=values, errors=errors, status=400)
    except Conflict as exc:  # a taken username: the same summary, on the username
        return _staff_page(request, values=values, errors={"username": exc.message}, status=409)
    return render(request, "frontend/staff_added.html", {"added": added})


def _member(request: HttpRequest, user_id: int) -> User:
    found = {u.pk: u for u in group_selectors.staff_list(viewer=request.user)}.get(user_id)
    if found is None:
        raise Http404()
    return found


@require_POST
@admins_only
def staff_role(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _member(request, user_id)
    done = _("%(name)s is now: %(role)s.") % {
        "name": person.username,
        "role": dict(ROLE_CHOICES).get(request.POST.get("role", ""), ""),
    }
    _flash_errors(
        request,
        lambda: staff_services.staff_change_role(
            actor=request.user, user_id=user_id, role=request.POST.get("role")
        ),
        done,
    )
    return redirect("staff")


@never_cache
@require_http_methods(["GET", "POST"])
@admins_only
def staff_switch_off(request: HttpRequest, user_id: int) -> HttpResponse:
    """ "Switch off this account?": a confirmation page, then off at once."""
    person = _member(request, user_id)
    if request.method == "GET" or not person.is_active:
        return render(request, "frontend/staff_switch_off.html", {"person": person})
    done = _("%(name)s's account is switched off. She has been signed out everywhere.") % {
        "name": person.username
    }
    _flash_errors(
        request,
        lambda: staff_services.staff_switch_off(actor=request.user, user_id=user_id),
        done,
    )
    return redirect("staff")


@require_POST
@admins_only
def staff_switch_on(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _member(request, user_id)
    done = _("%(name)s's account is switched on again.") % {"name": person.username}
    _flash_errors(
        request,
        lambda: staff_services.staff_switch_on(actor=request.user, user_id=user_id),
        done,
    )
    return redirect("staff")


@never_cache
@require_POST
@signed_in
def member_reset_code(request: HttpRequest, group_id: int, member_id: int) -> HttpResponse:
    """From a member's record: a one-time reset code for her, shown once to hand over (her
    group's facilitators and admins, issue 17). Anyone else: 404, as for her record."""
    if not can(request.user, Action.MEMBER_RESET_CODE, group=group_id):
        raise Http404()
    found = group_for(request.user, group_id, Action.MEMBER_RESET_CODE)
    member = group_selectors.member_for_history(
        viewer=request.user, group=found, member_id=member_id
    )
    try:
        code = group_services.reset_code_issue(actor=request.user, member=member)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("member-history", group_id=found.pk, member_id=member.pk)
    return render(
        request,
        "frontend/reset_code.html",
        {"group": found, "member": member, "code": code, "hours": RESET_CODE_HOURS},
    )
