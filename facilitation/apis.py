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
    CheckInInput,
    CheckInOutput,
    CheckInSkipInput,
    ContentWarningOutput,
    DebriefInput,
    DebriefOutput,
    MePatchInput,
    MyCheckInOutput,
    PlanInput,
    PlanOutput,
    PrivateMessageInput,
    PrivateMessageOutput,
    PrivateThreadOutput,
    SessionCreateInput,
    SessionEventPage,
    SessionEventsQuery,
    SessionOutput,
    SessionUpdateInput,
    SupportAskInput,
    SupportRequestOutput,
    SupportStatusInput,
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
        preferences = data["preferences"]
        user = services.preferences_update(
            actor=request.user,
            content_warnings=preferences.get("content_warnings"),
            tell_hosts_if_i_leave_quickly=preferences.get("tell_hosts_if_i_leave_quickly"),
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


class SupportListCreateApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]
    # Reading: her own requests, or (those who answer them) every open one; the selector says.
    group_actions = {"GET": Action.GROUP_VIEW, "POST": Action.SUPPORT_REQUEST}

    @extend_schema(
        operation_id="groups_support_list",
        responses={200: paginated(SupportRequestOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        rows = selectors.support_list(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=SupportRequestOutput
        )

    @extend_schema(
        operation_id="groups_support_create",
        request=SupportAskInput,
        responses={201: SupportRequestOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(SupportAskInput, request.data)
        row = services.support_ask(
            actor=request.user,
            group=request.haven_group,
            kind=data["kind"],
            note=data.get("note"),
            client_id=str(data["client_id"]),
        )
        return Response(SupportRequestOutput(row).data, status=status.HTTP_201_CREATED)


class SupportStatusApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]
    group_actions = {"POST": Action.SUPPORT_MANAGE}

    @extend_schema(
        operation_id="groups_support_status",
        request=SupportStatusInput,
        responses={200: SupportRequestOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, group_id: int, request_id: int) -> Response:
        data = valid(SupportStatusInput, request.data)
        row = services.support_set_status_in_group(
            actor=request.user,
            group=request.haven_group,
            request_id=request_id,
            status=data["status"],
        )
        return Response(SupportRequestOutput(row).data)


class SessionCheckInsApi(APIView):
    @extend_schema(
        operation_id="sessions_checkins_list",
        responses={200: paginated(CheckInOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.CHECKIN_READ
        )
        rows = services.checkins_read(actor=request.user, session=session)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=CheckInOutput
        )

    @extend_schema(
        operation_id="sessions_checkins_create",
        request=CheckInInput,
        responses={201: MyCheckInOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.CHECKIN_ANSWER
        )
        data = valid(CheckInInput, request.data)
        row = services.checkin_after(
            actor=request.user,
            session=session,
            moment=data["moment"],
            mood=data["mood"],
            note=data.get("note"),
            share=data.get("share_note_with_peer_mentors"),
        )
        return Response(MyCheckInOutput(row).data, status=status.HTTP_201_CREATED)


class SessionCheckInSkipApi(APIView):
    @extend_schema(
        operation_id="sessions_checkins_skip",
        request=CheckInSkipInput,
        responses={204: None, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.session_get_for(
            viewer=request.user, session_id=session_id, action=Action.CHECKIN_ANSWER
        )
        data = valid(CheckInSkipInput, request.data)
        services.checkin_skip_after(actor=request.user, session=session, moment=data["moment"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeCheckInsApi(APIView):
    @extend_schema(
        operation_id="me_checkins_list",
        responses={200: paginated(MyCheckInOutput), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.checkins_mine(viewer=request.user)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=MyCheckInOutput
        )


class PrivateThreadListApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_private_list",
        responses={200: paginated(PrivateThreadOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        rows = selectors.private_threads(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=PrivateThreadOutput
        )


class PrivateMessagesApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_private_messages_list",
        responses={200: paginated(PrivateMessageOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int, member_id: int) -> Response:
        rows = services.private_read(
            actor=request.user, group=request.haven_group, member_id=member_id
        )
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=PrivateMessageOutput
        )

    @extend_schema(
        operation_id="groups_private_messages_create",
        request=PrivateMessageInput,
        responses={201: PrivateMessageOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int, member_id: int) -> Response:
        data = valid(PrivateMessageInput, request.data)
        row = services.private_post(
            actor=request.user,
            group=request.haven_group,
            member_id=member_id,
            client_id=str(data["client_id"]),
            body=data["body"],
        )
        return Response(PrivateMessageOutput(row).data, status=status.HTTP_201_CREATED)


class SessionDebriefsApi(APIView):
    """Debrief notes after a session (issue 16): read by the group's facilitators and the
    safeguarding leads, written by its facilitators; anyone else finds nothing (404)."""

    @extend_schema(
        operation_id="sessions_debriefs_list",
        responses={200: paginated(DebriefOutput), **error_responses(401, 404)},
    )
    def get(self, request: Request, session_id: int) -> Response:
        session, _rights = services.summary_get_for(viewer=request.user, session_id=session_id)
        rows = services.debriefs_read(actor=request.user, session=session)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=DebriefOutput
        )

    @extend_schema(
        operation_id="sessions_debriefs_create",
        request=DebriefInput,
        responses={201: DebriefOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, session_id: int) -> Response:
        session, _rights = services.summary_get_for(viewer=request.user, session_id=session_id)
        data = valid(DebriefInput, request.data)
        row = services.debrief_write(actor=request.user, session=session, body=data["body"])
        return Response(DebriefOutput(row).data, status=status.HTTP_201_CREATED)
