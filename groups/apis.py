"""REST edge of accounts, groups, roster and invites: parse, call one service, serialise."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from groups import selectors, services
from groups.models import ApiToken
from groups.permissions import HasGroupAction
from groups.policies import Action, active_membership
from groups.serializers import (
    AcceptanceOutput,
    AgreementAcceptInput,
    AgreementOutput,
    AgreementPublishInput,
    GroupCreateInput,
    GroupOutput,
    GroupUpdateInput,
    InviteCreatedOutput,
    InviteCreateInput,
    InviteOutput,
    InviteRedeemInput,
    InviteRedeemOutput,
    MemberDecisionInput,
    MemberOutput,
    MemberStatusOutput,
    MemberUpdateInput,
    ProposalCreateInput,
    ProposalDecideInput,
    ProposalOutput,
    TokenCreateInput,
    TokenOutput,
)
from groups.throttling import InviteCodeThrottle
from project.pagination import paginated_response
from project.schema import ERRORS, error_responses, paginated, valid
from project.throttling import RouteThrottle


class TokenCreateApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenCreateInput,
        responses={200: TokenOutput, **error_responses(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = valid(TokenCreateInput, request.data)
        token = services.token_sign_in(
            request=request._request,
            username=data["username"],
            password=data["password"],
            otp=data.get("otp"),
        )
        return Response({"token": token})


class TokenRevokeApi(APIView):
    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        responses={204: None, **error_responses(401)},
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            services.token_revoke(actor=request.user, token=request.auth, session_key=None)
        else:
            services.session_end(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignOutEverywhereApi(APIView):
    @extend_schema(
        operation_id="auth_signout_everywhere",
        request=None,
        responses={204: None, **error_responses(401)},
    )
    def post(self, request: Request) -> Response:
        services.sign_out_everywhere(actor=request.user)
        if not isinstance(request.auth, ApiToken):
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupListCreateApi(APIView):
    @extend_schema(
        operation_id="groups_list", responses={200: paginated(GroupOutput), **error_responses(401)}
    )
    def get(self, request: Request) -> Response:
        groups = selectors.group_list_with_membership(viewer=request.user)
        return paginated_response(request=request, view=self, queryset=groups, serializer=_GroupRow)

    @extend_schema(
        operation_id="groups_create",
        request=GroupCreateInput,
        responses={201: GroupOutput, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = valid(GroupCreateInput, request.data)
        group = services.group_create(actor=request.user, **data)
        view = selectors.group_view(viewer=request.user, group=group)
        return Response(
            GroupOutput((view.group, view.membership)).data, status=status.HTTP_201_CREATED
        )


class _GroupRow(GroupOutput):
    """A group of `selectors.group_list_with_membership`, with the viewer's membership."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return super().to_representation(selectors.group_row(instance))


class GroupDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]
    group_actions = {"GET": Action.GROUP_VIEW, "PATCH": Action.GROUP_VIEW}

    @extend_schema(
        operation_id="groups_retrieve", responses={200: GroupOutput, **error_responses(401, 404)}
    )
    def get(self, request: Request, group_id: int) -> Response:
        view = selectors.group_view(viewer=request.user, group=request.haven_group)
        return Response(GroupOutput((view.group, view.membership)).data)

    @extend_schema(
        operation_id="groups_update",
        request=GroupUpdateInput,
        responses={200: GroupOutput, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, group_id: int) -> Response:
        data = valid(GroupUpdateInput, request.data)
        group = services.group_update(actor=request.user, group=request.haven_group, **data)
        view = selectors.group_view(viewer=request.user, group=group)
        return Response(GroupOutput((view.group, view.membership)).data)


class RosterListApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_members_list",
        responses={200: paginated(MemberOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        members = selectors.roster_list(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=members, serializer=MemberOutput
        )


class MemberDetailApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_members_update",
        request=MemberUpdateInput,
        responses={200: MemberOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, group_id: int, member_id: int) -> Response:
        data = valid(MemberUpdateInput, request.data)
        membership = services.member_change_role(
            actor=request.user, group=request.haven_group, member_id=member_id, role=data["role"]
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(
        operation_id="groups_members_destroy",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, group_id: int, member_id: int) -> Response:
        services.member_remove(actor=request.user, group=request.haven_group, member_id=member_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _member_status(membership: Any) -> dict[str, Any]:
    return {
        "member_id": membership.pk,
        "status": membership.status,
        "paused_until": membership.paused_until,
    }


class MemberDecisionApi(APIView):
    """Issue 16: pause (1-12 weeks) or remove a member, with a required staff-only reason."""

    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_members_decide",
        request=MemberDecisionInput,
        responses={200: MemberStatusOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, group_id: int, member_id: int) -> Response:
        data = valid(MemberDecisionInput, request.data)
        decided = services.member_decide(
            actor=request.user, group=request.haven_group, member_id=member_id, **data
        )
        return Response(MemberStatusOutput(_member_status(decided.membership)).data)


class MemberReinstateApi(APIView):
    """Issue 16: bring back a paused or removed member at once."""

    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_members_reinstate",
        request=None,
        responses={200: MemberStatusOutput, **error_responses(401, 403, 404)},
    )
    def post(self, request: Request, group_id: int, member_id: int) -> Response:
        membership = services.member_reinstate(
            actor=request.user, group=request.haven_group, member_id=member_id
        )
        return Response(MemberStatusOutput(_member_status(membership)).data)


class InviteListCreateApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_invites_list",
        responses={200: paginated(InviteOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        invites = selectors.invite_list(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=invites, serializer=InviteOutput
        )

    @extend_schema(
        operation_id="groups_invites_create",
        request=InviteCreateInput,
        responses={201: InviteCreatedOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(InviteCreateInput, request.data)
        invite, code = services.invite_create(actor=request.user, group=request.haven_group, **data)
        body = {
            "id": invite.pk,
            "code": code,
            "role": invite.role,
            "max_uses": invite.max_uses,
            "expires_at": invite.expires_at,
            "label": invite.label,
        }
        return Response(InviteCreatedOutput(body).data, status=status.HTTP_201_CREATED)


class InviteRevokeApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_invites_destroy",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, group_id: int, invite_id: int) -> Response:
        services.invite_revoke(actor=request.user, group=request.haven_group, invite_id=invite_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InviteRedeemApi(APIView):
    permission_classes = [AllowAny]
    # Per client address (the route's scope) and per code (groups/throttling.py).
    throttle_classes = [RouteThrottle, InviteCodeThrottle]

    @extend_schema(
        operation_id="invites_redeem",
        request=InviteRedeemInput,
        responses={
            201: InviteRedeemOutput,
            **error_responses(400, 401, 404),
            409: OpenApiResponse(
                ERRORS, description="already_member, display_name_taken or username_taken"
            ),
        },
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],
    )
    def post(self, request: Request, code: str) -> Response:
        data = valid(InviteRedeemInput, request.data)
        membership, token = services.invite_redeem(actor=request.user, code=code, **data)
        body: dict[str, Any] = {"group_id": membership.group_id, "member_id": membership.pk}
        if token is not None:
            body["token"] = token
        return Response(body, status=status.HTTP_201_CREATED)


def _agreement_body(agreement: Any, accepted: bool) -> dict[str, Any]:
    return AgreementOutput(
        {
            "version": agreement.version,
            "points": agreement.points,
            "published_at": agreement.published_at,
            "accepted_by_me": accepted,
        }
    ).data


class AgreementApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_agreement_retrieve",
        responses={200: AgreementOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        agreement, accepted = selectors.agreement_view(
            viewer=request.user, group=request.haven_group
        )
        return Response(_agreement_body(agreement, accepted))

    @extend_schema(
        operation_id="groups_agreement_publish",
        request=AgreementPublishInput,
        responses={201: AgreementOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(AgreementPublishInput, request.data)
        agreement = services.agreement_publish(
            actor=request.user, group=request.haven_group, points=data["points"]
        )
        accepted = selectors.agreement_accepted_by(viewer=request.user, agreement=agreement)
        return Response(_agreement_body(agreement, accepted), status=status.HTTP_201_CREATED)


class AgreementAcceptApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_agreement_accept",
        request=AgreementAcceptInput,
        responses={200: AgreementOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(AgreementAcceptInput, request.data)
        agreement = services.agreement_accept(
            actor=request.user, group=request.haven_group, version=data["version"]
        )
        return Response(_agreement_body(agreement, True))


class AcceptanceListApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_agreement_acceptances_list",
        responses={200: paginated(AcceptanceOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        rows = selectors.acceptance_list(viewer=request.user, group=request.haven_group)
        return paginated_response(
            request=request, view=self, queryset=rows, serializer=AcceptanceOutput
        )


class ProposalListCreateApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_agreement_proposals_list",
        responses={200: paginated(ProposalOutput), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, group_id: int) -> Response:
        group = request.haven_group
        rows = selectors.proposal_list(viewer=request.user, group=group)
        mine = active_membership(request.user, group)
        return paginated_response(
            request=request,
            view=self,
            queryset=rows,
            serializer=ProposalOutput,
            context={"member_id": mine.pk if mine else None},
        )

    @extend_schema(
        operation_id="groups_agreement_proposals_create",
        request=ProposalCreateInput,
        responses={201: ProposalOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = valid(ProposalCreateInput, request.data)
        proposal = services.proposal_create(
            actor=request.user, group=request.haven_group, text=data["text"]
        )
        context = {"member_id": proposal.proposer_id}
        return Response(
            ProposalOutput(proposal, context=context).data, status=status.HTTP_201_CREATED
        )


class ProposalDecideApi(APIView):
    permission_classes = [IsAuthenticated, HasGroupAction]

    @extend_schema(
        operation_id="groups_agreement_proposals_decide",
        request=ProposalDecideInput,
        responses={200: ProposalOutput, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, group_id: int, proposal_id: int) -> Response:
        data = valid(ProposalDecideInput, request.data)
        proposal = services.proposal_decide(
            actor=request.user, group=request.haven_group, proposal_id=proposal_id, **data
        )
        mine = active_membership(request.user, request.haven_group)
        context = {"member_id": mine.pk if mine else None}
        return Response(ProposalOutput(proposal, context=context).data)
