"""Limits on joining with an invite code, for the REST route and the join page alike.

Both count each attempt per client address (`invite_redeem`) and per code (`invite_code`), so
one code cannot be used to test usernames (`username_taken`) or display names without end, from
one address or from many. Rates: settings `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`.
"""

from __future__ import annotations

from typing import Any

from groups.services import invite_code_hash
from project.throttling import ScopeThrottle, allow


def _code_ident(code: Any) -> str:
    return f"code:{invite_code_hash(code)[:32]}"


class InviteCodeThrottle(ScopeThrottle):
    """DRF throttle of the redeem route: attempts per invite code."""

    def allow_request(self, request: Any, view: Any) -> bool:
        return self.allow(request, "invite_code", ident=_code_ident(view.kwargs.get("code")))


def redeem_wait(request: Any, code: Any) -> int:
    """For the join page: 0 when this attempt may go ahead, else the seconds to wait."""
    waits = [
        allow(request, "invite_redeem")[1],
        allow(request, "invite_code", ident=_code_ident(code))[1],
    ]
    return max(waits)
