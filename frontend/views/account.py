"""Her settings: preferences, her check-ins, sign out everywhere, export and erasure."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.taxonomy import CONTENT_WARNINGS
from frontend.views._common import CLEAR_SITE_DATA, _error_text, _flash_errors, signed_in
from groups import services as group_services
from groups.models import OrgRole
from project.exceptions import ApplicationError
from safeguarding import services as concern_services


@signed_in
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        if request.POST.get("action") == "signout_everywhere":
            group_services.sign_out_everywhere(actor=user)
            logout(request)
            response = redirect("landing")
            response["Clear-Site-Data"] = CLEAR_SITE_DATA
            return response
        if request.POST.get("action") == "erase":
            try:
                concern_services.account_erase(actor=user, password=request.POST.get("password"))
            except ApplicationError as exc:
                messages.error(request, _error_text(exc))
                return redirect("settings")
            logout(request)
            response = redirect("landing")
            response["Clear-Site-Data"] = CLEAR_SITE_DATA
            return response
        if request.POST.get("action") == "leave_quickly":
            # Its own form: the content-warning choices are left as they are.
            told = request.POST.getlist("tell_hosts_if_i_leave_quickly")
            _flash_errors(
                request,
                lambda: session_services.preferences_update(
                    actor=user, tell_hosts_if_i_leave_quickly=bool(told) and told[-1] == "1"
                ),
                _("Saved."),
            )
            return redirect("settings")
        choices = {
            key: request.POST.get(f"cw_{key}", "collapse") for key, _l, _d in CONTENT_WARNINGS
        }
        # A hidden "0" before the checkbox's "1": the last value counts; none: unchanged.
        told = request.POST.getlist("tell_hosts_if_i_leave_quickly")
        _flash_errors(
            request,
            lambda: session_services.preferences_update(
                actor=user,
                content_warnings=choices,
                tell_hosts_if_i_leave_quickly=told[-1] == "1" if told else None,
            ),
            _("Saved."),
        )
        return redirect("settings")
    preferences = session_selectors.preferences_effective(user)
    return render(
        request,
        "frontend/settings.html",
        {
            "warnings": [
                (key, label, description, preferences["content_warnings"].get(key, "collapse"))
                for key, label, description in CONTENT_WARNINGS
            ],
            "is_staff_role": user.org_role != OrgRole.NONE,
            "tell_hosts_if_i_leave_quickly": preferences["tell_hosts_if_i_leave_quickly"],
            "checkins": session_selectors.checkins_mine(viewer=user)[:30],
        },
    )
