"""REST edge of sessions, plans, attendance, the taxonomy and a member's own preferences."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from facilitation import selectors, services
from facilitation.serializers import (
    AttendanceOutput,
    ContentWarningOutput,
    MePatchInput,
    PlanInput,
    PlanOutput,
    SessionCreateInput,
    SessionEventPage,
    SessionEventsQuery,
    SessionOutput,
    SessionUpdateInput,
)
from groups.permissions import HasGroupAction
from groups.policies import Action
from groups.serializers import MeOutput
from project.pagination import paginated_response
from project.schema import error_responses, paginated, valid


def me_data(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "org_role": user.org_role,
        "preferences": selectors.preferences_effective(user),
    }


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses={200: MeOutput, **error_responses(401)})
    def get(self, request: Request) -> Response:
        return Response(me_data(request.user))

    @extend_schema(
        operation_id="me_update",
        request=MePatchInput,
        responses={200: MeOutput, **error_responses(400, 401)},
    )
    def patch(self, request: Request) -> Response:
        data = valid(MePatchInput, request.data)
        user = services.preferences_update(
            actor=request.user, content_warnings=data["preferences"]["content_warnings"]
        )
        return Response(me_data(user))


class ContentWarningListApi(APIView):
    @extend_schema(
        operation_id="content_warnings_list",
        responses={200: paginated(ContentWarningOutput), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.content_warning_list(),
            serializer=ContentWarningOutput,
        )


class SessionListCreateApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]
    group_actions = {"GET": Action.SESSION_VIEW, "POST": Action.SESSION_CREATE}

    @extend_schema(
        operation_id="groups_sessions_list",
        responses={200: paginated(SessionOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        sessions = selectors.session_list(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=sessions, serializer=SessionOutput
        )

    @extend_schema(
        operation_id="groups_sessions_create",
        request=SessionCreateInput,
        responses={201: SessionOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(SessionCreateInput, request.data)
        session = services.session_create(actor=request.user, group=request.haven_group, **data)
        return Response(SessionOutput(session).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(APIView):
    @extend_schema(
        operation_id="sessions_retrieve",
        responses={200: SessionOutput, **error_responses(401, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(viewer=request.user, session_id=session_id)
        return Response(SessionOutput(session).data)

    @extend_schema(
        operation_id="sessions_update",
        request=SessionUpdateInput,
        responses={200: SessionOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.SESSION_UPDATE
        )
        data = valid(SessionUpdateInput, request.data)
        session = services.session_update(actor=request.user, session=session, **data)
        session = selectors.session_get_for(viewer=request.user, session_id=session.pk)
        return Response(SessionOutput(session).data)


def plan_data(session: Any, items: Any) -> dict[str, Any]:
    return {
        "session_id": session.pk,
        "items": [
            {
                "title": item.title,
                "kind": item.kind,
                "minutes": item.minutes,
                "notes": item.notes,
                "content_warnings": list(item.content_warnings),
            }
            for item in items
        ],
    }


class SessionPlanApi(APIView):
    @extend_schema(
        operation_id="sessions_plan_retrieve",
        responses={200: PlanOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.SESSION_HOST
        )
        items = selectors.plan_items(viewer=request.user, session=session)
        return Response(plan_data(session, items))

    @extend_schema(
        operation_id="sessions_plan_update",
        request=PlanInput,
        responses={200: PlanOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.SESSION_HOST
        )
        data = valid(PlanInput, request.data)
        items = services.plan_replace(actor=request.user, session=session, items=data["items"])
        return Response(plan_data(session, items))


class SessionAttendanceApi(APIView):
    @extend_schema(
        operation_id="sessions_attendance_list",
        responses={200: paginated(AttendanceOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.SESSION_HOST
        )
        rows = selectors.attendance_list(viewer=request.user, session=session)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=AttendanceOutput
        )


class SessionEventsApi(APIView):
    @extend_schema(
        operation_id="sessions_events_list",
        parameters=[
            OpenApiParameter("after_seq", int, description="Return events after this seq."),
            OpenApiParameter("limit", int, description="At most this many (1-500, default 200)."),
        ],
        responses={200: SessionEventPage, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(viewer=request.user, session_id=session_id)
        query = valid(SessionEventsQuery, request.query_params)
        after, limit = query["after_seq"], query["limit"]
        rows = selectors.session_log(
            viewer=request.user, session=session, after_seq=after, limit=limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_url = None
        if more:
            next_url = request.build_absolute_uri(f"?after_seq={rows[-1]['seq']}&limit={limit}")
        return Response({"count": len(rows), "next": next_url, "previous": None, "results": rows})
