from __future__ import annotations

from django.urls import path

from groups import apis

urlpatterns = [
    path("auth/token/", apis.TokenCreateApi.as_view(), name="auth-token"),
    path("auth/token/revoke/", apis.TokenRevokeApi.as_view(), name="auth-token-revoke"),
    path(
        "auth/signout-everywhere/",
        apis.SignOutEverywhereApi.as_view(),
        name="auth-signout-everywhere",
    ),
    path("groups/", apis.GroupListCreateApi.as_view(), name="group-list"),
    path("groups/<int:group_id>/", apis.GroupDetailApi.as_view(), name="group-detail"),
    path("groups/<int:group_id>/members/", apis.RosterListApi.as_view(), name="group-members"),
    path(
        "groups/<int:group_id>/members/<int:member_id>/",
        apis.MemberDetailApi.as_view(),
        name="group-member",
    ),
    path(
        "groups/<int:group_id>/members/<int:member_id>/decision/",
        apis.MemberDecisionApi.as_view(),
        name="group-member-decision",
    ),
    path(
        "groups/<int:group_id>/members/<int:member_id>/reinstate/",
        apis.MemberReinstateApi.as_view(),
        name="group-member-reinstate",
    ),
    path(
        "groups/<int:group_id>/invites/", apis.InviteListCreateApi.as_view(), name="group-invites"
    ),
    path(
        "groups/<int:group_id>/invites/<int:invite_id>/",
        apis.InviteRevokeApi.as_view(),
        name="group-invite",
    ),
    path("groups/<int:group_id>/agreement/", apis.AgreementApi.as_view(), name="agreement"),
    path(
        "groups/<int:group_id>/agreement/accept/",
        apis.AgreementAcceptApi.as_view(),
        name="agreement-accept",
    ),
    path(
        "groups/<int:group_id>/agreement/acceptances/",
        apis.AcceptanceListApi.as_view(),
        name="agreement-acceptances",
    ),
    path(
        "groups/<int:group_id>/agreement/proposals/",
        apis.ProposalListCreateApi.as_view(),
        name="agreement-proposals",
    ),
    path(
        "groups/<int:group_id>/agreement/proposals/<int:proposal_id>/",
        apis.ProposalDecideApi.as_view(),
        name="agreement-proposal",
    ),
    path("invites/<str:code>/redeem/", apis.InviteRedeemApi.as_view(), name="invite-redeem"),
]
