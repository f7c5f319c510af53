"""Her settings: preferences, her check-ins, sign out everywhere, export and erasure; the
language choice on every page."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.taxonomy import translated_warnings
from frontend.views._common import CLEAR_SITE_DATA, _error_text, _flash_errors, signed_in
from groups import selectors as group_selectors
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
            # Issue 17: erasure ends on a page that says it worked.
            response = redirect("erased")
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
        # The categories the form shows; a retired one's choice stays as it was.
        choices = {
            key: request.POST.get(f"cw_{key}", "collapse") for key, _l, _d in translated_warnings()
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
    offered = translated_warnings()
    return render(
        request,
        "frontend/settings.html",
        {
            "warnings": [
                (key, label, description, preferences["content_warnings"].get(key, "collapse"))
                for key, label, description in offered
            ],
            # Issue 17: one line says what is folded; the topics sit behind "Change for a topic".
            "shown_warnings": [
                label
                for key, label, _d in offered
                if preferences["content_warnings"].get(key, "collapse") == "show"
            ],
            "cw_open": request.GET.get("change") == "warnings",
            "is_staff_role": user.org_role != OrgRole.NONE,
            "tell_hosts_if_i_leave_quickly": preferences["tell_hosts_if_i_leave_quickly"],
            "checkins": session_selectors.checkins_mine(viewer=user)[:30],
        },
    )


# --- issue 17: her password and her names in groups -------------------------------------------


def _summary(errors: dict[str, str], order: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The GOV.UK error summary: (field id, message) in the order of the fields on the page."""
    return [(anchor, errors[name]) for name, anchor in order if name in errors]


def _field_errors(exc: ApplicationError, fallback: str) -> dict[str, str]:
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        return {name: " ".join(str(m) for m in msgs) for name, msgs in fields.items()}
    return {fallback: exc.message}


@signed_in
@require_http_methods(["GET", "POST"])
def password_change_page(request: HttpRequest) -> HttpResponse:
    """Change her password (the current one, then a new one). Her other devices are signed
    out; this browser stays signed in. Neither password is ever shown back."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            group_services.password_change(
                actor=request.user,
                current=request.POST.get("current", ""),
                new=request.POST.get("password", ""),
                keep_session=request.session.session_key,
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            errors = _field_errors(exc, "current")
        else:
            update_session_auth_hash(request, request.user)
            messages.success(
                request,
                _("Your password is changed. You are signed out on every other phone or computer."),
            )
            return redirect("settings")
    return render(
        request,
        "frontend/password_change.html",
        {
            "errors": errors,
            "summary": _summary(errors, [("current", "pw-current"), ("password", "pw-new")]),
        },
        status=400 if errors else 200,
    )


@signed_in
@require_http_methods(["GET", "POST"])
def display_names_page(request: HttpRequest) -> HttpResponse:
    """Her name in each of her groups, one form each; checked as when joining."""
    user = request.user
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    failed_id = ""
    if request.method == "POST":
        failed_id = request.POST.get("membership_id", "")[:20]
        typed = {"display_name": request.POST.get("display_name", "")[:200]}
        try:
            group_services.display_name_change(
                actor=user,
                membership_id=failed_id,
                display_name=request.POST.get("display_name", ""),
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            errors = _field_errors(exc, "display_name")
        else:
            messages.success(request, _("Your name in the group is changed."))
            return redirect("settings-names")
    memberships = group_selectors.memberships_mine(viewer=user)
    return render(
        request,
        "frontend/display_names.html",
        {
            "memberships": memberships,
            "errors": errors,
            "failed_id": failed_id,
            "typed": typed,
            "summary": [(f"name-{failed_id}", errors["display_name"])]
            if "display_name" in errors
            else [],
        },
        status=400 if errors else 200,
    )


# --- issue 17: her data, with a warning first; erasure ends on a page that says it worked ------

# The parts of the export, in the words the readable page uses (the file keeps its keys).
EXPORT_PARTS: list[tuple[str, str]] = [
    ("account", gettext_lazy("Your account")),
    ("groups", gettext_lazy("Your groups and your names in them")),
    ("messages", gettext_lazy("Messages you wrote in sessions")),
    ("concerns", gettext_lazy("Concerns you raised, with their answers")),
    ("notices", gettext_lazy("Private notes the hosts sent you")),
    ("support_requests", gettext_lazy("Times you asked for support")),
    ("checkins", gettext_lazy("How you said you were in sessions")),
    ("private_messages", gettext_lazy("Your private thread with the hosts")),
    ("group_decisions", gettext_lazy("Pauses or removals, with the facilitators' message")),
    ("referrals", gettext_lazy("Help from another service that was suggested to you")),
    ("agreements_accepted", gettext_lazy("Group agreements you accepted")),
    ("agreement_proposals", gettext_lazy("Changes to an agreement you suggested")),
]


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _label(key: Any) -> str:
    return str(key).replace("_", " ").capitalize()


def _text(value: Any) -> str:
    """One value as plain words (nested parts joined, never JSON)."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " | ".join(_text(v) for v in value)
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            return date_format(datetime.fromisoformat(value), "j M Y, H:i")
        except ValueError:
            return value
    return str(value)


def _entries(value: Any) -> list[list[tuple[str, str]]]:
    """One part of the export as entries of (label, text) rows for the readable page."""
    items = value if isinstance(value, list) else [value] if value else []
    return [
        [(_label(k), _text(v)) for k, v in item.items()]
        if isinstance(item, dict)
        else [("", _text(item))]
        for item in items
    ]


@signed_in
def data_download(request: HttpRequest) -> HttpResponse:
    """Before the download: what is in it, and that anyone who has the file can read it."""
    return render(
        request,
        "frontend/data_download.html",
        {"parts": [label for _key, label in EXPORT_PARTS]},
    )


@never_cache
@signed_in
def data_read(request: HttpRequest) -> HttpResponse:
    """Her data as a page (nothing to keep on the phone)."""
    export = concern_services.member_export(actor=request.user)
    known = {key for key, _label in EXPORT_PARTS}
    sections = [
        (key, label, _entries(export.get(key)))
        for key, label in EXPORT_PARTS
        + [(k, k.replace("_", " ").capitalize()) for k in export if k not in known]
    ]
    return render(request, "frontend/data_read.html", {"sections": sections})


@never_cache
@signed_in
def data_file(request: HttpRequest) -> HttpResponse:
    """Her data as a file, named neutrally (the name says nothing about Haven)."""
    export = concern_services.member_export(actor=request.user)
    response = HttpResponse(
        json.dumps(export, ensure_ascii=False, indent=2, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="export.json"'
    return response


def erased(request: HttpRequest) -> HttpResponse:
    """After erasure: it worked, she is signed out, nothing of hers is left to sign in with."""
    return render(request, "frontend/erased.html")


@require_POST
def language_choose(request: HttpRequest) -> HttpResponse:
    """Issue 18: the language choice on every page. Kept on her account when she is signed in,
    and in this browser (the language cookie) until it closes; back to the page she was on.
    The language never goes into a URL."""
    chosen = group_services.language_choose(
        actor=request.user, language=request.POST.get("language")
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "/"
    translation.activate(chosen)
    response = redirect(back)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        chosen,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
