"""What every page module shares: the signed-in guard and how errors reach a page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from groups.policies import is_signed_in
from project.exceptions import ApplicationError

View = Callable[..., HttpResponse]
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


def signed_in(view: View) -> View:
    """Pages for signed-in people; anyone else goes to the sign-in page (no `next` leak)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_signed_in(request.user):
            return redirect("signin")
        return view(request, *args, **kwargs)

    return wrapper


def _error_text(exc: ApplicationError) -> str:
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        return " ".join(" ".join(msgs) for msgs in fields.values())
    return exc.message


def _flash_errors(request: HttpRequest, action: Callable[[], Any], done: str | None = None) -> bool:
    """Run a service call; show its refusal as a message instead of an error page."""
    try:
        action()
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        messages.error(request, _error_text(exc))
        return False
    if done:
        messages.success(request, done)
    return True


def _local_datetime(value: str) -> datetime | None:
    """A `datetime-local` input, read in the server's time zone."""
    parsed = parse_datetime(value or "")
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed
