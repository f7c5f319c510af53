"""Choosing a new password with a one-time code from the staff (issue 16): for a member who
forgot hers. There is no e-mail to send a link to, by design; the code is handed over in
person, and the page says how to ask for one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from groups import services as group_services
from groups.services.slowdown import SlowedDown
from project.exceptions import ValidationFailed

FIELDS = ("username", "code", "password")


@never_cache
@require_http_methods(["GET", "POST"])
def signin_reset(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "frontend/signin_reset.html", {"values": {}, "errors": {}})
    # What she typed comes back after an error (the code too: it is hers until it is used),
    # never the password (issue 17).
    values = {
        "username": request.POST.get("username", "").strip()[:150],
        "code": request.POST.get("code", "").strip()[:64],
    }
    try:
        group_services.password_reset_with_code(
            username=values["username"],
            code=request.POST.get("code", ""),
            password=request.POST.get("password", ""),
        )
    except ValidationFailed as exc:
        fields = exc.extra.get("fields", {})
        errors = {k: " ".join(str(m) for m in v) for k, v in fields.items() if k in FIELDS}
        context = {"values": values, "errors": errors}
        return render(request, "frontend/signin_reset.html", context, status=400)
    except SlowedDown as exc:
        context = {"values": values, "errors": {"code": exc.message}}
        return render(request, "frontend/signin_reset.html", context, status=429)
    messages.success(request, _("Your new password is set. Sign in with it now."))
    return redirect("signin")
