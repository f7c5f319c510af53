from __future__ import annotations

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from frontend import views
from frontend.views import account as account_views
from frontend.views import agreements as agreement_views
from frontend.views import audit as audit_views
from frontend.views import info as info_views
from frontend.views import lead as lead_views
from frontend.views import referrals as referral_views
from frontend.views import reset as reset_views
from frontend.views import staff as staff_views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signin/", views.signin, name="signin"),
    path("signin/code/", views.signin_code, name="signin-code"),
    path("signout/", views.signout, name="signout"),
    path("join/", views.join, name="join"),
    # Issue 17: the information pages (About is the only one that says what Haven is for).
    path("about/", info_views.about, name="about"),
    path("staying-safe/", info_views.staying_safe, name="staying-safe"),
    path("what-to-expect/", info_views.what_to_expect, name="what-to-expect"),
    # Issue 17: "Get help now", the directory of services the organisation trusts.
    path("help/", info_views.get_help, name="get-help"),
    path("groups/", views.groups, name="groups"),
    path("groups/<int:group_id>/", views.group, name="group"),
    # Issue 16: the new-invite page, pausing or removing a member, and her record.
    path("groups/<int:group_id>/invites/new/", views.invite_created, name="invite-created"),
    path(
        "groups/<int:group_id>/members/<int:member_id>/",
        views.member_history,
        name="member-history",
    ),
    path(
        "groups/<int:group_id>/members/<int:member_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    # Issue 17: referral with consent, from her record; staff follow it and, once she agreed,
    # print or download the pack.
    path(
        "groups/<int:group_id>/members/<int:member_id>/referral/",
        referral_views.referral_propose,
        name="referral-propose",
    ),
    path(
        "groups/<int:group_id>/referrals/<int:referral_id>/",
        referral_views.referral_staff,
        name="referral-staff",
    ),
    path(
        "groups/<int:group_id>/referrals/<int:referral_id>/cancel/",
        referral_views.referral_cancel,
        name="referral-cancel",
    ),
    path("groups/<int:group_id>/past/", views.past_sessions, name="group-past"),
    # Issue 16: the next version of the agreement, after checking what it changes.
    path(
        "groups/<int:group_id>/agreement/publish/",
        agreement_views.agreement_publish_page,
        name="agreement-publish",
    ),
    # Issue 17: leaving asks first; a break folds the group away in My groups.
    path("groups/<int:group_id>/leave/", views.leave_group, name="group-leave"),
    path("groups/<int:group_id>/break/", views.group_break, name="group-break"),
    path("groups/<int:group_id>/<slug:action>/", views.group_action, name="group-action"),
    path("sessions/<int:session_id>/plan/", views.session_plan, name="session-plan"),
    path("sessions/<int:session_id>/room/", views.room, name="room"),
    path("sessions/<int:session_id>/summary/", views.session_summary, name="session-summary"),
    # Issue 17: ending a session asks first, on its own page.
    path("sessions/<int:session_id>/end/", views.session_end, name="session-end"),
    path(
        "sessions/<int:session_id>/checkins/",
        views.session_checkins,
        name="session-checkins-page",
    ),
    path("concerns/", views.concerns, name="concerns"),
    path("concerns/new/", views.concern_new, name="concern-new"),
    path("concerns/<int:concern_id>/", views.concern, name="concern"),
    # Issue 17: help from other services suggested to her, hers alone to answer.
    path("referrals/", referral_views.referrals_mine, name="referrals-mine"),
    path("referrals/<int:referral_id>/", referral_views.referral_mine, name="referral-mine"),
    path(
        "referrals/<int:referral_id>/change/",
        referral_views.referral_change,
        name="referral-change",
    ),
    path(
        "referrals/<int:referral_id>/withdraw/",
        referral_views.referral_withdraw,
        name="referral-withdraw",
    ),
    path("referrals/<int:referral_id>/done/", referral_views.referral_done, name="referral-done"),
    path(
        "referrals/<int:referral_id>/pack/",
        referral_views.referral_pack_page,
        name="referral-pack-page",
    ),
    path(
        "referrals/<int:referral_id>/pack/file/",
        referral_views.referral_pack_file,
        name="referral-pack-file",
    ),
    path("settings/", views.account_settings, name="settings"),
    # Issue 17: her password and her names in groups.
    path("settings/password/", account_views.password_change_page, name="settings-password"),
    path("settings/names/", account_views.display_names_page, name="settings-names"),
    path("settings/data/", account_views.data_download, name="settings-data"),
    path("settings/data/read/", account_views.data_read, name="settings-data-read"),
    path("settings/data/file/", account_views.data_file, name="settings-data-file"),
    path("erased/", account_views.erased, name="erased"),
    path("audit/", audit_views.audit, name="audit-page"),
    path("overview/", lead_views.dashboard, name="overview"),
    path("staff/", staff_views.staff, name="staff"),
    path(
        "groups/<int:group_id>/members/<int:member_id>/reset-code/",
        staff_views.member_reset_code,
        name="member-reset-code",
    ),
    path("signin/reset/", reset_views.signin_reset, name="signin-reset"),
    path("staff/<int:user_id>/role/", staff_views.staff_role, name="staff-role"),
    path("staff/<int:user_id>/switch-off/", staff_views.staff_switch_off, name="staff-switch-off"),
    path("staff/<int:user_id>/switch-on/", staff_views.staff_switch_on, name="staff-switch-on"),
    # Issue 18: the language choice in every page's footer (never a language in the URL).
    path("language/", account_views.language_choose, name="language"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["frontend"]), name="jsi18n"),
]
