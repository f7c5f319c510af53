"""Server-rendered pages. Views gather what a template shows and call the same services and
selectors as the REST API; they hold no rules of their own. One module per part of Haven
(`auth`, `groups`, `sessions`, `concerns`, `account`); `frontend/urls.py` imports them from here.

Every page is neutral on the surface: the title says what the page is and nothing more (never a
group, a session or a pseudonym), URLs carry ids only, and nothing a member wrote is put in a
URL. The live room's client is static JavaScript (no inline script).
"""

from __future__ import annotations

from frontend.views.account import account_settings
from frontend.views.auth import join, landing, signin, signin_code, signout
from frontend.views.concerns import concern, concern_new, concerns
from frontend.views.groups import group, group_action, group_break, groups, leave_group
from frontend.views.members import invite_created, member_history, member_remove
from frontend.views.sessions import (
    past_sessions,
    room,
    session_checkins,
    session_end,
    session_plan,
    session_summary,
)

__all__ = [
    "account_settings",
    "concern",
    "concern_new",
    "concerns",
    "group",
    "group_action",
    "group_break",
    "groups",
    "invite_created",
    "join",
    "landing",
    "leave_group",
    "member_history",
    "member_remove",
    "past_sessions",
    "room",
    "session_checkins",
    "session_end",
    "session_plan",
    "session_summary",
    "signin",
    "signin_code",
    "signout",
]
