"""Signing in (and the staff's second step), signing out, joining with an invite code."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from facilitation import services as session_services
from frontend.views._common import CLEAR_SITE_DATA, _error_text
from groups import services as group_services
from groups.policies import needs_second_factor
from groups.throttling import redeem_wait
from project.exceptions import ApplicationError


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("groups")
    return render(request, "frontend/landing.html")


def _form_page(
    request: HttpRequest,
    template: str,
    fields: tuple[str, ...],
    errors: dict[str, str],
    values: dict[str, str],
    status: int,
) -> HttpResponse:
    """A form page, first or after a try (issue 17): what she typed (`values`, never a
    password), each error at its field and in the GOV.UK summary in the fields' page order
    (`fields`, also their ids); a refusal without a status of its own answers 400."""
    if errors and status == 200:
        status = 400
    summary = [(name, errors[name]) for name in fields if name in errors]
    return render(
        request, template, {"errors": errors, "summary": summary, "values": values}, status=status
    )


# The sign-in form's fields in page order: the error summary lists them in this order.
_SIGNIN_FIELDS = ("username", "password")


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """The same sign-in as the REST token (lockouts included), ending in a cookie session.

    After an error the page keeps her username (never the password), with a GOV.UK error
    summary linking to the field and "Error:" in the title (issue 17). An empty field is
    answered here and never counts as a failed attempt."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "")
        values = {"username": username[:150]}
        if not username.strip():
            errors["username"] = _("Enter your username.")
        if not request.POST.get("password"):
            errors["password"] = _("Enter your password.")
        if not errors:
            try:
                user = group_services.session_sign_in(
                    request=request, username=username, password=request.POST.get("password", "")
                )
            except ApplicationError as exc:
                # A mismatch points at the password (she types it again); a wait, at the top.
                field = "password" if exc.code == "invalid_credentials" else "username"
                errors[field] = exc.message
                status = exc.status
            else:
                if needs_second_factor(user):
                    return redirect("signin-code")
                return redirect("groups")
    return _form_page(request, "frontend/signin.html", _SIGNIN_FIELDS, errors, values, status)


@require_http_methods(["GET", "POST"])
def signin_code(request: HttpRequest) -> HttpResponse:
    """Staff sign-in, second page: the code from her authenticator app (or a recovery code).
    Without a password checked in the last few minutes, back to the first page."""
    if group_services.session_pending_user(request=request) is None:
        return redirect("signin")
    if request.method == "POST":
        try:
            group_services.session_second_factor(request=request, code=request.POST.get("otp"))
        except ApplicationError as exc:
            if exc.status == 404:
                return redirect("signin")
            error = exc.extra.get("fields", {}).get("otp", [exc.message])[0]
            return render(request, "frontend/signin_code.html", {"error": error}, status=exc.status)
        return redirect("groups")
    return render(request, "frontend/signin_code.html", {"error": None})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """Sign out: close this browser's sockets, end the session, clear what the browser kept.

    The quick exit calls this in the background (sendBeacon) while the page leaves; from a
    room page it also sends `room` (the session id), so the hosts hear she left quickly
    unless she turned that off (`support_left` decides, and never stops the sign-out).
    """
    user = request.user
    group_services.session_end(request=request)
    # Only after she is signed out: telling the hosts takes a moment (and may wait for the
    # database), and Back pressed at once must already find Haven signed out.
    if user.is_authenticated and request.POST.get("beacon") and request.POST.get("room"):
        session_services.support_left(actor=user, session_id=request.POST["room"])
    if request.POST.get("beacon"):
        response: HttpResponse = HttpResponse(status=204)
    else:
        response = redirect("landing")
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    # Her language stays on her account, not on a shared device (issue 18).
    response.delete_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


# Issue 17: which field a refusal of `invite_redeem` belongs to, and the words that say what to
# do next (an unknown, expired, used-up or revoked code all look the same from outside).
_JOIN_FIELDS = ("code", "display_name", "username", "password")
_JOIN_CONFLICT_FIELDS = {
    "display_name_taken": "display_name",
    "username_taken": "username",
    "already_member": "code",
}


def _join_errors(exc: ApplicationError) -> dict[str, str]:
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        found = {
            name: " ".join(str(m) for m in messages_)
            for name, messages_ in fields.items()
            if name in _JOIN_FIELDS
        }
        if found:
            return found
    if exc.status == 404:
        return {
            "code": _(
                "This code does not work. Codes stop working after a few days or once they are "
                "used. Check you typed it as it was given, or ask the facilitator who gave it to "
                "you for a new one."
            )
        }
    return {_JOIN_CONFLICT_FIELDS.get(exc.code, "code"): _error_text(exc)}


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """Redeem an invite: a new account (username, password, display name) or, signed in,
    only a display name for the new group.

    After an error the form keeps what she typed (never the password), with a GOV.UK error
    summary linking to each field and the message at the field (issue 17)."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        post = request.POST
        values = {name: post.get(name, "")[:200] for name in ("code", "display_name", "username")}
        new_account = not request.user.is_authenticated
        missing = {
            "code": _("Enter the invite code a facilitator gave you."),
            "display_name": _("Choose a name for this group."),
            "username": _("Choose a username."),
            "password": _("Choose a password."),
        }
        for name, text in missing.items():
            if name in {"username", "password"} and not new_account:
                continue
            if not post.get(name, "").strip():
                errors[name] = text
        if not errors:
            if redeem_wait(request, post.get("code", "")):
                errors["code"] = _("Too many attempts. Please wait a few minutes and try again.")
                status = 429
            else:
                try:
                    membership, _token = group_services.invite_redeem(
                        actor=request.user,
                        code=post.get("code", ""),
                        display_name=post.get("display_name", ""),
                        username=post.get("username"),
                        password=post.get("password"),
                    )
                except ApplicationError as exc:
                    errors = _join_errors(exc)
                else:
                    if not request.user.is_authenticated:
                        group_services.session_start(request=request, user=membership.user)
                    messages.success(request, _("Welcome. Please read the group's agreement."))
                    return redirect("group", group_id=membership.group_id)
    return _form_page(request, "frontend/join.html", _JOIN_FIELDS, errors, values, status)
