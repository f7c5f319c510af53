"""Server-rendered pages. Views only gather what a template shows; services do the work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/landing.html")
