"""REST edge of what a member chooses for herself and of sessions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from groups.serializers import MeOutput
from project.schema import error_responses


def me_data(user: Any) -> dict[str, Any]:
    return {"username": user.username, "org_role": user.org_role, "preferences": user.preferences}


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses={200: MeOutput, **error_responses(401)})
    def get(self, request: Request) -> Response:
        return Response(me_data(request.user))
