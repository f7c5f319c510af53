"""Values every page needs: the quick-exit target and, for staff, the concerns waiting for them.

Staff see on every page how many open concerns they handle (the navigation and a number in the
tab title) and a banner while an urgent one is past its answer-by time. Loading a staff page is
also when Haven escalates concerns nobody acknowledged in time, so an install with no cron still
escalates (`safeguarding.services.concerns_escalate_overdue`; the `escalate_overdue` command is
the cron form). Signed-out visitors cost nothing here: no statement at all.

Issue 17: the woman who raised a concern sees a discreet dot on "Concerns" (and on the room's
"Raise a concern") while one of hers has an answer she has not opened. That costs her one
indexed statement (`safeguarding.selectors.unread_answers`), and only when the page shows it:
the value is lazy, so building the context still runs no statement for members. Never a number,
never a word in the page or tab title. A referral waiting for her answer is told the same
discreet way, on her group page and in Settings (`referral_waiting`, lazy too).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from groups.policies import Action, can, is_signed_in, needs_second_factor
from safeguarding import selectors as concern_selectors
from safeguarding import services as concern_services

logger = logging.getLogger(__name__)

# Pages that show no count and no banner: the live room has its own alerts for hosts (issue 15),
# keeps its title ("Room", nothing before it), and must stay cheap to load.
QUIET_PAGES = frozenset({"room"})


def haven(request: HttpRequest) -> dict[str, Any]:
    return {
        "exit_url": settings.HAVEN_NEUTRAL_EXIT_URL,
        "left_cookie": settings.HAVEN_LEFT_COOKIE_NAME,
        "staff_concerns": _staff_concerns(request),
        "org_links": _org_links(request),
        "concern_unread": SimpleLazyObject(lambda: _concern_unread(request)),
        "concern_reply_times": SimpleLazyObject(concern_selectors.reply_times),
        "referral_waiting": SimpleLazyObject(lambda: _referral_waiting(request)),
    }


def _referral_waiting(request: HttpRequest) -> bool:
    """Is a referral waiting for her answer (issue 17)? One indexed statement, only on the
    pages that show it (the group page and Settings); none for visitors."""
    user = getattr(request, "user", None)
    if not is_signed_in(user):
        return False
    return concern_selectors.referral_waiting(viewer=user)


def _concern_unread(request: HttpRequest) -> bool:
    """Has she an unread answer to a concern she raised? One indexed statement when signed in
    (`unread_answers`); False, with no statement, for visitors."""
    user = getattr(request, "user", None)
    if not is_signed_in(user):
        return False
    try:
        return concern_selectors.unread_answers(viewer=user)
    except DatabaseError:
        logger.warning("concern unread mark unavailable for this page")
        return False


# The organisation's pages (issue 16, the lead's view), each shown in the navigation to those
# who may open it: the same policy answers the page itself.
ORG_PAGES = (
    ("overview", Action.DASHBOARD_VIEW, _("Overview")),
    ("audit-page", Action.AUDIT_VIEW, _("Audit log")),
    ("staff", Action.STAFF_MANAGE, _("Staff")),
)


def _org_links(request: HttpRequest) -> list[tuple[str, str]]:
    """(url name, label) of the organisation pages she may open; none for members, without a
    statement (the policy reads her organisation role from the account already loaded)."""
    user = getattr(request, "user", None)
    if not is_signed_in(user) or not needs_second_factor(user):
        return []
    return [(name, str(label)) for name, action, label in ORG_PAGES if can(user, action)]


def _staff_concerns(request: HttpRequest) -> concern_selectors.StaffConcernCounts | None:
    """Three indexed statements for staff (nothing overdue: one to find so, her memberships,
    one aggregate); None, with no statement, for anyone else."""
    user = getattr(request, "user", None)
    if not needs_second_factor(user) or not is_signed_in(user):
        return None
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name in QUIET_PAGES:
        return None
    try:
        concern_services.concerns_escalate_overdue()
        return concern_selectors.staff_concern_counts(viewer=user)
    except DatabaseError:
        # An error page must still render when the database is what failed.
        logger.warning("concern counts unavailable for this page")
        return None
