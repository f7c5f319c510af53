"""Which language a person reads Haven in (issue 18), for pages, REST and the live room alike.

Her own choice wins: signed in, the language kept on her account (`groups.User.language`,
applied on every request by `groups.middleware.ChosenLanguageMiddleware` and by the room's
connection); signed out, the choice this browser made (Django's language cookie). Before any
choice, the browser's Accept-Language is the first guess, then English. Never in a URL: a
shared link must not say which language its sender reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie

from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def supported(code: object) -> str | None:
    """`code` as one of settings.LANGUAGES (e.g. "pt-BR" → "pt-br"), or None when Haven does
    not ship it. Only exact languages count: a choice is never a prefix guess."""
    if not isinstance(code, str) or not code:
        return None
    wanted = code.strip().lower().replace("_", "-")
    return wanted if wanted in dict(settings.LANGUAGES) else None


def from_accept_language(header: str) -> str | None:
    """The first language of an Accept-Language header Haven ships ("pt" finds "pt-br")."""
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def from_headers(headers: Iterable[tuple[bytes, bytes]], *, chosen: object = None) -> str:
    """The language of a WebSocket connection: her account's choice (`chosen`), this
    browser's choice (the language cookie), the Accept-Language guess, or English."""
    found = supported(chosen)
    if found:
        return found
    cookie_header = accept = ""
    for name, value in headers:
        if name == b"cookie":
            cookie_header = value.decode("latin-1")
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    cookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed cookie header is simply not a choice
        cookie = SimpleCookie()
    morsel = cookie.get(settings.LANGUAGE_COOKIE_NAME)
    found = supported(morsel.value if morsel is not None else None)
    return found or from_accept_language(accept) or settings.LANGUAGE_CODE
