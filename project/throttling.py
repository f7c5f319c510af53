"""REST throttles: one table of the routes that are limited, and what counts against them.

`ROUTES` names each limited route (its URL name and method) and its scope; the rates are
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` in settings. Sign-in and invite redemption are
counted per client address (`project.clientip`: never a client-written X-Forwarded-For); the
rest per account. Counts live in Django's cache (Redis with several processes), so every process
sees the same count. A refused request answers 429 `rate_limited` with `extra.retry_after`
(project.exceptions) and changes nothing: throttles run before the view.

Pages that do the same thing (the join page) ask `allow` with the same scope, so a limit is
spelled once for both edges.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import Resolver404, resolve
from rest_framework.throttling import SimpleRateThrottle

from project.clientip import request_client_ip

# (URL name, method) -> scope.
ROUTES: dict[tuple[str, str], str] = {
    ("auth-token", "POST"): "signin",
    ("invite-redeem", "POST"): "invite_redeem",
    ("concerns", "POST"): "concern_raise",
    ("agreement-proposals", "POST"): "proposal",
    ("me-export", "GET"): "export",
}
# Scopes counted per client address, whoever is signed in.
BY_ADDRESS = frozenset({"signin", "invite_redeem"})


class ScopeThrottle(SimpleRateThrottle):
    """A DRF throttle whose scope is chosen per request, not per class."""

    def __init__(self) -> None:  # the rate is read per scope, in `allow`
        self.ident: str | None = None

    def get_rate(self) -> str | None:
        # Read at each request, not once at import, so a changed setting takes effect.
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request: Any) -> str:
        return request_client_ip(request) or "unknown"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if self.ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def allow(self, request: Any, scope: str, *, ident: str | None = None) -> bool:
        """Count this request against `scope` (keyed by `ident`, else by address or account)."""
        self.scope = scope
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if ident is not None:
            self.ident = ident
        elif scope in BY_ADDRESS or not getattr(request.user, "is_authenticated", False):
            self.ident = f"ip:{self.get_ident(request)}"
        else:
            self.ident = f"user:{request.user.pk}"
        return super().allow_request(request, None)


class RouteThrottle(ScopeThrottle):
    """The throttle every REST view runs: limits only the routes of `ROUTES`."""

    def allow_request(self, request: Any, view: Any) -> bool:
        match = request._request.resolver_match
        scope = ROUTES.get((getattr(match, "url_name", None), request.method))
        if scope is None:
            return True
        return self.allow(request, scope)


def allow(request: HttpRequest, scope: str, *, ident: str | None = None) -> tuple[bool, int]:
    """For pages: may this request go ahead under `scope`? Also the seconds to wait if not."""
    throttle = ScopeThrottle()
    allowed = throttle.allow(request, scope, ident=ident)
    return allowed, 0 if allowed else int(throttle.wait() or 1)


def document_throttles(
    result: dict[str, Any], generator: Any, request: Any, public: bool, **kwargs: Any
) -> dict[str, Any]:
    """drf-spectacular hook: every limited operation documents its 429."""
    for path, operations in result.get("paths", {}).items():
        concrete = path
        while "{" in concrete:
            start, end = concrete.index("{"), concrete.index("}")
            concrete = concrete[:start] + "1" + concrete[end + 1 :]
        try:
            name = resolve(concrete).url_name
        except Resolver404:
            continue
        for method, operation in operations.items():
            if (name, method.upper()) in ROUTES:
                operation.setdefault("responses", {}).setdefault(
                    "429",
                    {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                        "description": "too many requests (`rate_limited`, `extra.retry_after`)",
                    },
                )
    return result
