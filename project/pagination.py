"""The one list envelope of PROTOCOL.md: {count, next, previous, results}."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_response(
    *,
    request: Request,
    view: APIView,
    queryset: Any,
    serializer: type[Serializer],
    context: dict[str, Any] | None = None,
) -> Response:
    """Render `queryset` as one page of the list envelope using `serializer` for each item."""
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    items = serializer(page, many=True, context=context or {})
    return paginator.get_paginated_response(items.data)
