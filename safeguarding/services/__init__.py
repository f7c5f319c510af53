"""Writes for safeguarding, one module per sub-domain; the public names are re-exported here so
callers keep writing `safeguarding.services.concern_raise`.

- `concerns`: raising a concern, its private thread, moving it, escalating it (by a handler, or
  by Haven past its answer-by time), taking it and its staff-only notes;
- `retention`: the texts Haven empties past each group's retention;
- `data_rights`: a member's export of her own data, and erasing her account;
- `referrals`: referral with consent to a service of the help directory (issue 17);
- `directory`: importing the "Get help now" directory from Open Referral HSDS files.
"""

from __future__ import annotations

from safeguarding.services.audit import audit_exported
from safeguarding.services.concerns import (
    BODY_MAX,
    MAX_MESSAGES,
    NOTE_MAX,
    STAFF_NOTE_MAX,
    acknowledge_within,
    concern_note_add,
    concern_raise,
    concern_reply,
    concern_set_status,
    concern_take,
    concerns_escalate_overdue,
)
from safeguarding.services.data_rights import (
    ANOTHER_MEMBER,
    EraseRefused,
    account_erase,
    member_export,
)
from safeguarding.services.directory import (
    DirectoryInvalid,
    DirectoryProblem,
    directory_check,
    directory_import,
    directory_tables,
)
from safeguarding.services.referrals import (
    CONTACT_MAX,
    NEED_MAX,
    ReferralPack,
    pack_text,
    referral_accept,
    referral_decline,
    referral_pack,
    referral_propose,
    referral_update_by_member,
    referral_withdraw,
)
from safeguarding.services.retention import RETAINED_TEXTS, purge_expired

__all__ = [
    "ANOTHER_MEMBER",
    "BODY_MAX",
    "CONTACT_MAX",
    "MAX_MESSAGES",
    "NEED_MAX",
    "NOTE_MAX",
    "RETAINED_TEXTS",
    "STAFF_NOTE_MAX",
    "DirectoryInvalid",
    "DirectoryProblem",
    "EraseRefused",
    "ReferralPack",
    "account_erase",
    "acknowledge_within",
    "audit_exported",
    "concern_note_add",
    "concern_raise",
    "concern_reply",
    "concern_set_status",
    "concern_take",
    "concerns_escalate_overdue",
    "directory_check",
    "directory_import",
    "directory_tables",
    "member_export",
    "pack_text",
    "purge_expired",
    "referral_accept",
    "referral_decline",
    "referral_pack",
    "referral_propose",
    "referral_update_by_member",
    "referral_withdraw",
]
