"""OpenAPI pieces shared by every app's REST edge."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERRORS = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "extra": serializers.DictField(),
    },
)

_DESCRIPTIONS = {
    400: "invalid input (`code: invalid`, `extra.fields`), or another refusal with its code",
    401: "not signed in",
    403: "visible, but the caller's role may not do this",
    404: "does not exist, or is not visible to the caller",
    409: "conflicts with the current state",
    429: "too many attempts",
}


def error_responses(*codes: int) -> dict[int, Any]:
    return {code: OpenApiResponse(ERRORS, description=_DESCRIPTIONS[code]) for code in codes}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "groups.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` from POST /api/v1/auth/token/",
        }


def valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate request data with an input serializer; a 400 with field errors otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_PAGES: dict[str, Any] = {}


def paginated(item: type[serializers.Serializer]) -> Any:
    """The list envelope of PROTOCOL.md around `item`, for the OpenAPI schema."""
    name = f"Paginated{item.__name__.removesuffix('Output')}List"
    if name not in _PAGES:
        _PAGES[name] = inline_serializer(
            name=name,
            fields={
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _PAGES[name]
