from __future__ import annotations

from django.urls import path

from safeguarding import apis

urlpatterns = [
    path("concerns/", apis.ConcernListCreateApi.as_view(), name="concerns"),
    path("concerns/<int:concern_id>/", apis.ConcernDetailApi.as_view(), name="concern-detail"),
    path(
        "concerns/<int:concern_id>/replies/", apis.ConcernReplyApi.as_view(), name="concern-replies"
    ),
    path(
        "concerns/<int:concern_id>/status/", apis.ConcernStatusApi.as_view(), name="concern-status"
    ),
    path("concerns/<int:concern_id>/take/", apis.ConcernTakeApi.as_view(), name="concern-take"),
    path("concerns/<int:concern_id>/notes/", apis.ConcernNotesApi.as_view(), name="concern-notes"),
    path("audit/", apis.AuditListApi.as_view(), name="audit"),
    path("me/export/", apis.MeExportApi.as_view(), name="me-export"),
    path("me/erase/", apis.MeEraseApi.as_view(), name="me-erase"),
    # Issue 17: referral with consent.
    path(
        "groups/<int:group_id>/referrals/",
        apis.GroupReferralsApi.as_view(),
        name="group-referrals",
    ),
    path("referrals/<int:referral_id>/", apis.ReferralDetailApi.as_view(), name="referral-detail"),
    path(
        "referrals/<int:referral_id>/accept/",
        apis.ReferralAcceptApi.as_view(),
        name="referral-accept",
    ),
    path(
        "referrals/<int:referral_id>/decline/",
        apis.ReferralDeclineApi.as_view(),
        name="referral-decline",
    ),
    path(
        "referrals/<int:referral_id>/withdraw/",
        apis.ReferralWithdrawApi.as_view(),
        name="referral-withdraw",
    ),
    path("referrals/<int:referral_id>/pack/", apis.ReferralPackApi.as_view(), name="referral-pack"),
    # Issue 17: the "Get help now" directory, public and read only.
    path("help/services/", apis.HelpServicesApi.as_view(), name="help-services"),
]
