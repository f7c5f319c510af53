"""HTTP middleware shared by every app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """Pages and API answers carry private data: no browser or proxy may keep a copy.

    Static files are served before this runs (WhiteNoise) and keep their own caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        return response


class ApplicationErrorMiddleware:
    """Pages call the same services as the API: a refusal becomes a plain 403/404 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from project.exceptions import ApplicationError, json_or_page

        if isinstance(exception, ApplicationError):
            return json_or_page(request, exception.status, exception.code, exception.message)
        return None
