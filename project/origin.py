"""The WebSocket Origin check: a socket may be opened only by a page of this very site.

Channels' `AllowedHostsOriginValidator` compares the Origin's host with ALLOWED_HOSTS and ignores
its scheme and port, so a page served from another port of the same host (another service on
the machine) could open sockets with a member's cookie. Here the Origin must be the origin the
request itself was made to (its `Host` header, with the scheme Haven is served over), or one of
DJANGO_CSRF_TRUSTED_ORIGINS, compared as scheme, host and port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": "80", "https": "443"}


def _origin_tuple(scheme: str, netloc: str) -> tuple[str, str, str] | None:
    host, port = split_domain_port(netloc.lower())
    if not host or scheme not in DEFAULT_PORTS:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Is the handshake's Origin this site's own origin (scheme, host and port)?"""
    headers = dict(scope.get("headers") or [])
    try:
        origin = headers.get(b"origin", b"").decode("ascii")
        host = headers.get(b"host", b"").decode("ascii")
    except UnicodeDecodeError:
        return False
    parts = urlsplit(origin)
    claimed = _origin_tuple(parts.scheme, parts.netloc)
    if claimed is None or parts.path or parts.query or parts.fragment:
        return False
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        listed = urlsplit(trusted)
        if _origin_tuple(listed.scheme, listed.netloc) == claimed:
            return True
    schemes = ("https",) if settings.HTTPS else ("http", "https")
    served = [_origin_tuple(scheme, host) for scheme in schemes]
    domain, _port = split_domain_port(host.lower())
    return claimed in served and validate_host(domain, settings.ALLOWED_HOSTS)


class SameOriginValidator:
    """ASGI middleware: refuse a WebSocket handshake from any other origin (before any
    consumer code runs or any group is joined)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
