"""REST edge of concerns, the audit log, a member's own data, referrals with consent and the
public help directory: parse, call one service or selector, serialise."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from project.pagination import paginated_response
from project.schema import error_responses, paginated, valid
from safeguarding import selectors, services
from safeguarding.policies import concern_for
from safeguarding.serializers import (
    AuditOutput,
    AuditQuery,
    ConcernCreatedOutput,
    ConcernCreateInput,
    ConcernOutput,
    ConcernReplyInput,
    ConcernStatusInput,
    ConcernSummaryOutput,
    EraseInput,
    ExportOutput,
    HelpServiceOutput,
    NoteInput,
    NoteOutput,
    ReferralAcceptInput,
    ReferralEditInput,
    ReferralOutput,
    ReferralPackOutput,
    ReferralProposeInput,
    ReferralStaffOutput,
    ReferralStatusOutput,
    ReplyOutput,
)


def _concern_body(request: Request, concern_id: int) -> dict[str, Any]:
    concern, role = concern_for(actor=request.user, concern_id=concern_id)
    return ConcernOutput(concern, context={"viewer": request.user, "role": role}).data


class ConcernListCreateApi(APIView):
    @extend_schema(
        operation_id="concerns_list",
        parameters=[OpenApiParameter("overdue", bool, description="Only those past their time.")],
        responses={200: paginated(ConcernSummaryOutput), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        overdue = request.query_params.get("overdue") in {"1", "true", "yes"}
        rows = selectors.concern_list(viewer=request.user, overdue=overdue)
        return paginated_response(
            request=request,
            view=self,
            queryset=rows,
            serializer=ConcernSummaryOutput,
            context={"viewer": request.user},
        )

    @extend_schema(
        operation_id="concerns_create",
        request=ConcernCreateInput,
        responses={201: ConcernCreatedOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = valid(ConcernCreateInput, request.data)
        concern = services.concern_raise(actor=request.user, **data)
        body = {
            "id": concern.pk,
            "status": concern.status,
            "acknowledge_by": concern.acknowledge_by,
        }
        return Response(ConcernCreatedOutput(body).data, status=status.HTTP_201_CREATED)


class ConcernDetailApi(APIView):
    @extend_schema(
        operation_id="concerns_retrieve",
        responses={200: ConcernOutput, **error_responses(401, 404)},
    )
    def get(self, request: Request, concern_id: int) -> Response:
        concern, role = selectors.concern_detail(viewer=request.user, concern_id=concern_id)
        return Response(ConcernOutput(concern, context={"viewer": request.user, "role": role}).data)


class ConcernReplyApi(APIView):
    @extend_schema(
        operation_id="concerns_replies_create",
        request=ConcernReplyInput,
        responses={201: ReplyOutput, **error_responses(400, 401, 404, 409)},
    )
    def post(self, request: Request, concern_id: int) -> Response:
        data = valid(ConcernReplyInput, request.data)
        reply = services.concern_reply(actor=request.user, concern_id=concern_id, body=data["body"])
        body = ReplyOutput(reply, context={"viewer": request.user}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ConcernStatusApi(APIView):
    @extend_schema(
        operation_id="concerns_status_update",
        request=ConcernStatusInput,
        responses={200: ConcernOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, concern_id: int) -> Response:
        data = valid(ConcernStatusInput, request.data)
        services.concern_set_status(actor=request.user, concern_id=concern_id, **data)
        return Response(_concern_body(request, concern_id))


class ConcernTakeApi(APIView):
    @extend_schema(
        operation_id="concerns_take",
        request=None,
        responses={200: ConcernOutput, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, concern_id: int) -> Response:
        services.concern_take(actor=request.user, concern_id=concern_id)
        return Response(_concern_body(request, concern_id))


class ConcernNotesApi(APIView):
    @extend_schema(
        operation_id="concerns_notes_list",
        responses={200: NoteOutput(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, concern_id: int) -> Response:
        notes = selectors.concern_notes_for(viewer=request.user, concern_id=concern_id)
        return Response(NoteOutput(notes, many=True, context={"viewer": request.user}).data)

    @extend_schema(
        operation_id="concerns_notes_create",
        request=NoteInput,
        responses={201: NoteOutput, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request, concern_id: int) -> Response:
        data = valid(NoteInput, request.data)
        note = services.concern_note_add(
            actor=request.user, concern_id=concern_id, body=data["body"]
        )
        body = NoteOutput(note, context={"viewer": request.user}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AuditListApi(APIView):
    @extend_schema(
        operation_id="audit_list",
        parameters=[AuditQuery],
        responses={200: paginated(AuditOutput), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = valid(AuditQuery, request.query_params)
        rows = selectors.audit_list(viewer=request.user, **query)
        return paginated_response(request=request, view=self, queryset=rows, serializer=AuditOutput)


class MeExportApi(APIView):
    @extend_schema(operation_id="me_export", responses={200: ExportOutput, **error_responses(401)})
    def get(self, request: Request) -> Response:
        response = Response(services.member_export(actor=request.user))
        response["Content-Disposition"] = 'attachment; filename="export.json"'
        return response


class MeEraseApi(APIView):
    @extend_schema(
        operation_id="me_erase",
        request=EraseInput,
        responses={204: None, **error_responses(400, 401, 409)},
    )
    def post(self, request: Request) -> Response:
        data = valid(EraseInput, request.data)
        services.account_erase(actor=request.user, password=data["password"])
        logout(request._request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response


# --- referrals with consent (issue 17) -------------------------------------------------------


class GroupReferralsApi(APIView):
    @extend_schema(
        operation_id="groups_referrals_list",
        responses={200: paginated(ReferralStaffOutput), **error_responses(401, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        rows = selectors.referrals_of_group(viewer=request.user, group_id=group_id)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=ReferralStaffOutput
        )

    @extend_schema(
        operation_id="groups_referrals_create",
        request=ReferralProposeInput,
        responses={201: ReferralStaffOutput, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(ReferralProposeInput, request.data)
        referral = services.referral_propose(actor=request.user, group_id=group_id, **data)
        return Response(ReferralStaffOutput(referral).data, status=status.HTTP_201_CREATED)


class ReferralDetailApi(APIView):
    @extend_schema(
        operation_id="referrals_retrieve",
        responses={200: ReferralOutput, **error_responses(401, 404)},
    )
    def get(self, request: Request, referral_id: int) -> Response:
        referral = selectors.referral_detail(viewer=request.user, referral_id=referral_id)
        return Response(ReferralOutput(referral).data)

    @extend_schema(
        operation_id="referrals_partial_update",
        request=ReferralEditInput,
        responses={200: ReferralOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, referral_id: int) -> Response:
        data = valid(ReferralEditInput, request.data)
        referral = services.referral_update_by_member(
            actor=request.user, referral_id=referral_id, **data
        )
        return Response(ReferralOutput(referral).data)


class ReferralAcceptApi(APIView):
    @extend_schema(
        operation_id="referrals_accept",
        request=ReferralAcceptInput,
        responses={200: ReferralOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, referral_id: int) -> Response:
        data = valid(ReferralAcceptInput, request.data)
        referral = services.referral_accept(
            actor=request.user, referral_id=referral_id, version=data["version"]
        )
        return Response(ReferralOutput(referral).data)


class ReferralDeclineApi(APIView):
    @extend_schema(
        operation_id="referrals_decline",
        request=None,
        responses={200: ReferralOutput, **error_responses(401, 404, 409)},
    )
    def post(self, request: Request, referral_id: int) -> Response:
        referral = services.referral_decline(actor=request.user, referral_id=referral_id)
        return Response(ReferralOutput(referral).data)


class ReferralWithdrawApi(APIView):
    @extend_schema(
        operation_id="referrals_withdraw",
        request=None,
        responses={200: ReferralStatusOutput, **error_responses(401, 404, 409)},
    )
    def post(self, request: Request, referral_id: int) -> Response:
        referral = services.referral_withdraw(actor=request.user, referral_id=referral_id)
        return Response(ReferralStatusOutput({"id": referral.pk, "status": referral.status}).data)


class ReferralPackApi(APIView):
    @extend_schema(
        operation_id="referrals_pack",
        responses={200: ReferralPackOutput, **error_responses(401, 404)},
    )
    def get(self, request: Request, referral_id: int) -> Response:
        pack = services.referral_pack(actor=request.user, referral_id=referral_id, form="api")
        return Response(ReferralPackOutput(pack).data)


class HelpServicesApi(APIView):
    """The "Get help now" directory (issue 17): public, as the page is; nobody needs to sign in
    to find help, and nothing here is about a person."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="help_services_list",
        responses={200: paginated(HelpServiceOutput)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.help_services(),
            serializer=HelpServiceOutput,
        )
