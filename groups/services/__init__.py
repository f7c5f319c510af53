"""Writes for accounts, groups, the roster, invites, tokens and agreements.

Every function takes keyword-only arguments with the actor first, authorises through
`groups.policies`, runs in one transaction, writes an audit row where the action matters and
broadcasts only after commit (ARCHITECTURE.md rule 1). One module per sub-domain:
`accounts` (names, signing in and out, tokens, accounts), `groups` (a group and its roster),
`invites`, `agreements`; this package re-exports their public names, so callers keep writing
`groups.services.X` (and django-axes finds `username_normalise_from_request` here).
"""

from __future__ import annotations

from groups.selectors import agreement_accepted_current, agreement_current
from groups.services.accounts import (
    DISPLAY_NAME_MAX,
    DISPLAY_NAME_MIN,
    PASSWORD_MAX,
    USERNAME_FIELD_MAX,
    USERNAME_RE,
    InvalidCredentials,
    LockedOut,
    account_create,
    account_deactivate,
    credentials_check,
    display_name_clean,
    session_sign_in,
    session_start,
    staff_create,
    token_hash,
    token_issue,
    token_revoke,
    token_sign_in,
    username_normalise,
    username_normalise_from_request,
)
from groups.services.agreements import (
    AGREEMENT_MAX_POINTS,
    AGREEMENT_POINT_MAX,
    PROPOSAL_DECISIONS,
    PROPOSAL_NOTE_MAX,
    PROPOSAL_TEXT_MAX,
    agreement_accept,
    agreement_publish,
    proposal_create,
    proposal_decide,
)
from groups.services.groups import (
    GROUP_DESCRIPTION_MAX,
    GROUP_NAME_MAX,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    group_create,
    group_update,
    member_change_role,
    member_remove,
)
from groups.services.invites import (
    INVITE_ALPHABET,
    INVITE_LENGTH,
    INVITE_MAX_USES,
    INVITE_ROLES,
    invite_code_hash,
    invite_code_new,
    invite_create,
    invite_redeem,
    invite_revoke,
)

__all__ = [
    "AGREEMENT_MAX_POINTS",
    "AGREEMENT_POINT_MAX",
    "DISPLAY_NAME_MAX",
    "DISPLAY_NAME_MIN",
    "GROUP_DESCRIPTION_MAX",
    "GROUP_NAME_MAX",
    "INVITE_ALPHABET",
    "INVITE_LENGTH",
    "INVITE_MAX_USES",
    "INVITE_ROLES",
    "PASSWORD_MAX",
    "PROPOSAL_DECISIONS",
    "PROPOSAL_NOTE_MAX",
    "PROPOSAL_TEXT_MAX",
    "RETENTION_DAYS_MAX",
    "RETENTION_DAYS_MIN",
    "USERNAME_FIELD_MAX",
    "USERNAME_RE",
    "InvalidCredentials",
    "LockedOut",
    "account_create",
    "account_deactivate",
    "agreement_accept",
    "agreement_accepted_current",
    "agreement_current",
    "agreement_publish",
    "credentials_check",
    "display_name_clean",
    "group_create",
    "group_update",
    "invite_code_hash",
    "invite_code_new",
    "invite_create",
    "invite_redeem",
    "invite_revoke",
    "member_change_role",
    "member_remove",
    "proposal_create",
    "proposal_decide",
    "session_sign_in",
    "session_start",
    "staff_create",
    "token_hash",
    "token_issue",
    "token_revoke",
    "token_sign_in",
    "username_normalise",
    "username_normalise_from_request",
]
