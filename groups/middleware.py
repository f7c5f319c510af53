"""HTTP middleware of accounts: the quick exit's sign-out holds even for a request that beats
its beacon (`QuickExitMiddleware`); a staff browser session counts as signed in only after its
code; a signed-in person reads pages in the language she chose (`ChosenLanguageMiddleware`).

`django_otp.middleware.OTPMiddleware` (before this one) gives `request.user` django-otp's
`is_verified()`; here a staff account whose session has not given its code
(`policies.second_factor_owed`) becomes anonymous for everything after: pages, REST (DRF's
session authentication reads this user), the Django admin. Haven's own sign-in never makes such
a session (staff are signed in only with the code); this holds for any other way one is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from groups.policies import second_factor_owed
from groups.services import session_end
from project import languages


class QuickExitMiddleware:
    """The quick exit (exit.js) signs her out with a beacon to /signout/ as the page leaves, and
    leaves a mark first: a cookie (`HAVEN_LEFT_COOKIE_NAME`, this site only, no value worth
    reading, SameSite as the session cookie so that it goes wherever the session goes, Back
    from the neutral site included). A request that reaches Haven before the beacon (Back
    pressed at once, a busy server) would still find her signed in; one that carries the mark
    signs this browser out first, as /signout/ does, and its answer deletes the mark.
    /signout/ itself is left to its view, which also tells the hosts she left quickly (the
    beacon may carry the mark too).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = settings.HAVEN_LEFT_COOKIE_NAME
        if name not in request.COOKIES:
            return self.get_response(request)
        if request.path_info != reverse("signout"):
            session_end(request=request)
        response = self.get_response(request)
        response.delete_cookie(name, samesite=settings.SESSION_COOKIE_SAMESITE)
        return response


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None:

            def checked() -> Any:
                return AnonymousUser() if second_factor_owed(user) else user

            request.user = SimpleLazyObject(checked)
        return self.get_response(request)


class ChosenLanguageMiddleware:
    """Issue 18: a signed-in person reads every page in the language kept on her account.

    After Django's LocaleMiddleware (which guessed from this browser's language cookie, then
    Accept-Language) and after the sign-in checks above; with no choice kept, that guess stands.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = languages.supported(getattr(user, "language", None)) if user else None
        if chosen and chosen != request.LANGUAGE_CODE:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        return self.get_response(request)
