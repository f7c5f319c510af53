"""HTTP middleware of accounts: a staff browser session counts as signed in only after its code;
a signed-in person reads pages in the language she chose (`ChosenLanguageMiddleware`).

`django_otp.middleware.OTPMiddleware` (before this one) gives `request.user` django-otp's
`is_verified()`; here a staff account whose session has not given its code
(`policies.second_factor_owed`) becomes anonymous for everything after: pages, REST (DRF's
session authentication reads this user), the Django admin. Haven's own sign-in never makes such
a session (staff are signed in only with the code); this holds for any other way one is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from groups.policies import second_factor_owed
from project import languages


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
