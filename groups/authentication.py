"""`Authorization: Token <key>` for REST; tokens are looked up by their SHA-256."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from groups.models import ApiToken, User
from groups.services import token_authenticate


def user_for_token(key: str) -> tuple[User, ApiToken] | None:
    return token_authenticate(key=key)


def parse_authorization(header: bytes) -> str | None:
    """The key of a `Token <key>` header, None when there is no such header."""
    parts = header.split()
    if not parts or parts[0].lower() != b"token":
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(_("Invalid token header."))
    try:
        return parts[1].decode("ascii")
    except UnicodeError:
        raise exceptions.AuthenticationFailed(_("Invalid token header.")) from None


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        key = parse_authorization(get_authorization_header(request))
        if key is None:
            return None
        found = user_for_token(key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("You are not signed in."))
        return found

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class TokenOrSessionAuthMiddleware:
    """ASGI middleware for the WebSocket: a handshake with an `Authorization` header signs in
    with its token only (`TokenAuthMiddleware`); one without it, with the browser's session
    cookie (Channels' `AuthMiddlewareStack`).

    A token connection never loads the cookie session, so it costs no session lookup on the
    handshake and no session wrapper around every frame it is sent.
    """

    def __init__(self, inner: Any) -> None:
        from channels.auth import AuthMiddlewareStack

        self.with_token = TokenAuthMiddleware(inner)
        self.with_session = AuthMiddlewareStack(SessionSecondFactorMiddleware(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if any(name == b"authorization" for name, _value in scope.get("headers") or []):
            return await self.with_token(scope, receive, send)
        return await self.with_session(scope, receive, send)


# Where `TokenAuthMiddleware` leaves a handshake's bearer key for the consumer to check.
TOKEN_KEY = "haven_token_key"


class TokenAuthMiddleware:
    """ASGI middleware: `Authorization: Token <key>` on a WebSocket handshake signs the user in.

    The key is only parsed here, and left in the scope (`TOKEN_KEY`) with the user anonymous:
    the room checks it (`groups.services.TokenCheck`, as `token_authenticate`: every time,
    nothing cached) in the same read as room entry's (issue 20:
    `facilitation.services.room_enter_with_token`), so a revoked, expired or unknown token
    never enters, and a consumer that does not check it serves nobody signed in. A valid
    token signs her in whatever cookie came with it; an invalid token (or another scheme)
    leaves the connection anonymous (the consumer then closes with
    `closecodes.NOT_SIGNED_IN`). Tokens in the query string are never read.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        from django.contrib.auth.models import AnonymousUser

        header = dict(scope.get("headers") or []).get(b"authorization")
        if header is not None:
            scope = dict(scope)
            scope["user"] = AnonymousUser()
            try:
                key = parse_authorization(header)
            except exceptions.AuthenticationFailed:
                key = None
            if key:
                scope[TOKEN_KEY] = key
        return await self.inner(scope, receive, send)


def session_user_verified(user: Any, session: Any) -> Any:
    """The user a socket's browser session signs in, or AnonymousUser for a staff account
    whose session has not given its code (django-otp's device record in the session, checked
    as its OTPMiddleware does: the device exists, is hers and is confirmed)."""
    from django.contrib.auth.models import AnonymousUser
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    from groups.policies import needs_second_factor

    if not getattr(user, "is_authenticated", False) or not needs_second_factor(user):
        return user
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    if device is None or device.user_id != user.pk or not device.confirmed:
        return AnonymousUser()
    return user


class SessionSecondFactorMiddleware:
    """ASGI middleware inside Channels' session auth: a staff session counts as signed in on
    the socket only after its code, as on pages and REST (groups/middleware.py); otherwise the
    consumer closes with `closecodes.NOT_SIGNED_IN`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        from project.realtime import run_in_db

        user = scope.get("user")
        if getattr(user, "is_authenticated", False):
            try:
                checked = await run_in_db(
                    session_user_verified, user=user, session=scope.get("session")
                )
            except DatabaseError:
                scope = {**scope, "haven_unavailable": True}
                checked = None
            if checked is not user:
                from django.contrib.auth.models import AnonymousUser

                scope = {**scope, "user": checked or AnonymousUser()}
        return await self.inner(scope, receive, send)
