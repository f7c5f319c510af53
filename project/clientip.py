"""The client's address: one rule for HTTP and the WebSocket, for the lockout, the throttles and
everything else that asks.

Behind a proxy the direct peer is the proxy, and `X-Forwarded-For` lists the hops the request
came through, leftmost first. Everything to the left of the hop a trusted proxy added was written
by the client and proves nothing, so the address is the rightmost hop that is not a trusted proxy
(`HAVEN_TRUSTED_PROXIES`), and the header is read only when the direct peer is a trusted proxy.
With no trusted proxies it is ignored altogether.

`ClientAddressMiddleware` wraps the whole ASGI application: it puts that address into
`scope["client"]` (Django's `REMOTE_ADDR`, the socket's scope) and removes the header, so nothing
after it, django-axes and DRF's throttles included, can read the client-written part by mistake.
Daphne's own `--proxy-headers` takes the leftmost hop, which the client writes; `project.serve`
refuses to pass it on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from project.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HEADER = b"x-forwarded-for"


def _parse(hop: str) -> IPAddress | None:
    """A hop as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::5`, `[2001:db8::5]:80`."""
    text = hop.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPAddress, trusted: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Iterable[IPNetwork]
) -> str | None:
    """The client's address, from the direct peer and the `X-Forwarded-For` it sent."""
    networks = tuple(trusted)
    current = _parse(peer or "")
    if current is None:
        return peer
    if not networks or not forwarded_for or not _trusted(current, networks):
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        if not hop.strip():
            continue
        address = _parse(hop)
        if address is None:
            # Not written by a proxy we trust: stop at the nearest trusted hop.
            break
        current = address
        if not _trusted(address, networks):
            break
    return str(current)


class ClientAddressMiddleware:
    """ASGI middleware: `scope["client"]` becomes the client's address (`client_address`) and
    the `X-Forwarded-For` header is taken out, for HTTP and WebSocket alike."""

    def __init__(self, application: Any, *, trusted: Iterable[IPNetwork] | None = None) -> None:
        self.application = application
        self.trusted = None if trusted is None else tuple(trusted)

    def _networks(self) -> tuple[IPNetwork, ...]:
        if self.trusted is not None:
            return self.trusted
        from django.conf import settings

        return tuple(settings.HAVEN_TRUSTED_PROXIES)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") in {"http", "websocket"}:
            headers = list(scope.get("headers") or [])
            values = [value for name, value in headers if name.lower() == HEADER]
            client = scope.get("client")
            peer = client[0] if client else None
            forwarded = b",".join(values).decode("latin-1") if values else None
            address = client_address(peer, forwarded, self._networks())
            scope = dict(scope)
            if values:
                scope["headers"] = [(n, v) for n, v in headers if n.lower() != HEADER]
            if address is not None and address != peer:
                scope["client"] = [address, 0]
        return await self.application(scope, receive, send)


def request_client_ip(request: HttpRequest) -> str | None:
    """The client's address of a Django request (django-axes' AXES_CLIENT_IP_CALLABLE, the
    REST throttles): `REMOTE_ADDR`, which `ClientAddressMiddleware` has already settled."""
    return request.META.get("REMOTE_ADDR") or None
