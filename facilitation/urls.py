from __future__ import annotations

from django.urls import path

from facilitation import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/checkins/", apis.MeCheckInsApi.as_view(), name="me-checkins"),
    path("content-warnings/", apis.ContentWarningListApi.as_view(), name="content-warnings"),
    path(
        "groups/<int:group_id>/sessions/",
        apis.SessionListCreateApi.as_view(),
        name="group-sessions",
    ),
    path(
        "groups/<int:group_id>/support/",
        apis.SupportListCreateApi.as_view(),
        name="group-support",
    ),
    path(
        "groups/<int:group_id>/support/<int:request_id>/status/",
        apis.SupportStatusApi.as_view(),
        name="group-support-status",
    ),
    path(
        "groups/<int:group_id>/private/",
        apis.PrivateThreadListApi.as_view(),
        name="group-private",
    ),
    path(
        "groups/<int:group_id>/private/<int:member_id>/messages/",
        apis.PrivateMessagesApi.as_view(),
        name="group-private-messages",
    ),
    path("sessions/<int:session_id>/", apis.SessionDetailApi.as_view(), name="session-detail"),
    path("sessions/<int:session_id>/plan/", apis.SessionPlanApi.as_view(), name="session-plan"),
    path(
        "sessions/<int:session_id>/events/",
        apis.SessionEventsApi.as_view(),
        name="session-events",
    ),
    path(
        "sessions/<int:session_id>/checkins/skip/",
        apis.SessionCheckInSkipApi.as_view(),
        name="session-checkin-skip",
    ),
    path(
        "sessions/<int:session_id>/checkins/",
        apis.SessionCheckInsApi.as_view(),
        name="session-checkins",
    ),
    path(
        "sessions/<int:session_id>/debriefs/",
        apis.SessionDebriefsApi.as_view(),
        name="session-debriefs",
    ),
    path(
        "sessions/<int:session_id>/attendance/",
        apis.SessionAttendanceApi.as_view(),
        name="session-attendance",
    ),
]
