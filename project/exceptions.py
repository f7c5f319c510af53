"""The error shape of PROTOCOL.md, for services, REST views and consumers alike.

Services raise `ApplicationError` (or a subclass); the DRF handler below and the live room's
consumer turn it into `{"code", "message", "extra"}`. Messages are plain words and never carry
message text, concern text, display names or tokens.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response


class ApplicationError(Exception):
    """A refusal a caller can act on. `status` is the HTTP status the REST edge answers."""

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "extra": self.extra}


class ValidationFailed(ApplicationError):
    """400 with `extra.fields = {field: [messages]}`."""

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(
            message or str(_("Some fields need another look.")),
            code="invalid",
            status=400,
            extra={"fields": fields},
        )


class NotFound(ApplicationError):
    """Missing, or not visible to the caller: the two are never told apart."""

    status = 404
    code = "not_found"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or str(_("Not found.")), code=code)


class Forbidden(ApplicationError):
    """The caller can see the thing but may not do this to it."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or str(_("You may not do that here.")), code=code)


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


def error_body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "extra": extra or {}}


_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "not_authenticated",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
    drf_exceptions.ParseError: "invalid_json",
}


def _flatten_fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten_fields(value).items():
                    fields[f"{key}.{sub}"] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, msgs in _flatten_fields(item).items():
                        fields[f"{key}.{index}.{sub}"] = msgs
            elif isinstance(value, list):
                fields[str(key)] = [str(v) for v in value]
            else:
                fields[str(key)] = [str(value)]
        return fields
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler rendering every refusal in the PROTOCOL.md envelope."""
    # Imported here: DRF's views import the authentication classes, which import services.
    from rest_framework.views import exception_handler

    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, drf_exceptions.ValidationError):
        body = error_body(
            "invalid", _("Some fields need another look."), {"fields": _flatten_fields(exc.detail)}
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RecursionError):
        # JSON nested deeper than the parser can follow: DRF's parser only turns ValueError
        # into a 400, so without this it would be a 500 with a traceback in the log.
        exc = drf_exceptions.ParseError()
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        return response
    code = _DRF_CODES.get(type(exc), exc.default_code)
    extra: dict[str, Any] = {}
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = max(1, math.ceil(exc.wait))
    if isinstance(exc, drf_exceptions.ParseError):
        message = str(_("The request body is not valid JSON."))
    else:
        detail = exc.detail
        message = str(detail if not isinstance(detail, (list, dict)) else exc.default_detail)
    if isinstance(exc, drf_exceptions.Throttled):
        message = str(_("Too many requests. Please wait a little and try again."))
    response.data = error_body(code, message, extra)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_or_page(request: HttpRequest, status_code: int, code: str, message: str) -> Any:
    if _wants_json(request):
        return JsonResponse(error_body(code, message), status=status_code)
    from django.shortcuts import render

    return render(
        request,
        "frontend/error.html",
        {"status_code": status_code, "message": message},
        status=status_code,
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    return json_or_page(request, 400, "bad_request", str(_("The request could not be read.")))


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    return json_or_page(request, 403, "forbidden", str(_("You may not do that here.")))


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    return json_or_page(request, 404, "not_found", str(_("Not found.")))


def handler500(request: HttpRequest) -> Any:
    return json_or_page(
        request, 500, "server_error", str(_("Something went wrong on our side. Please try again."))
    )


MAX_ID = 2**63 - 1


def parse_id(value: Any) -> int:
    """An object id from a URL or a payload; anything that cannot be one is simply not found."""
    if isinstance(value, bool):
        raise NotFound()
    try:
        number = int(str(value), 10)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < number <= MAX_ID:
        raise NotFound()
    return number
