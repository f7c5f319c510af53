"""Haven's information pages (issue 17): About (the only page that says what Haven is for and
who it is for), Staying safe online, What to expect, and Get help (the directory of services the
organisation trusts). Open to anyone, signed in or not: a woman in crisis may not be signed in.
The organisation's name and contact line come from the settings
(frontend.templatetags.haven_info)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from groups import services as group_services
from project.organisation import urgent_help
from safeguarding.selectors import help_directory


@require_safe
def about(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/about.html")


@require_safe
def staying_safe(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/staying_safe.html")


@require_safe
def what_to_expect(request: HttpRequest) -> HttpResponse:
    """Opened signed in, it ticks "What to expect" on her first-run checklist."""
    if request.user.is_authenticated:
        group_services.what_to_expect_read(actor=request.user)
    return render(request, "frontend/what_to_expect.html")


@require_safe
def get_help(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "frontend/get_help.html",
        {"help_groups": help_directory(), "urgent_help": urgent_help()},
    )
