"""The agreement at a session's door (issue 16): a new version never applies to a session that
is already open. The rule is `groups.selectors.agreement_admits`; this module reads, for the
ORM paths (the log over REST, the group page, the room page), when a session opened.

A session opens with its first `session.status` event (scheduled → open is the only move out
of `scheduled`), so its log holds the time; `facilitation.sql.room()["enter"]` reads the same
row for the room itself. Retention empties an event's text, never the row or its time.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min

from facilitation.models import Session, SessionEvent
from groups.models import Membership
from groups.selectors import agreement_facts

# The log event whose first occurrence in a session is its opening.
OPENED_EVENT = "session.status"


def sessions_opened_at(session_ids: list[int]) -> dict[int, datetime]:
    """When each of these sessions opened; a session not yet opened is left out."""
    rows = (
        SessionEvent.objects.filter(session_id__in=session_ids, type=OPENED_EVENT)
        .values("session_id")
        .annotate(at=Min("created_at"))
    )
    return {row["session_id"]: row["at"] for row in rows}


def agreement_admits_to(membership: Membership, sessions: list[Session]) -> dict[int, bool]:
    """For each session of her group: does the agreement rule let her in?"""
    facts = agreement_facts(membership)
    opened = sessions_opened_at([s.pk for s in sessions])
    return {s.pk: facts.admits(opened.get(s.pk)) for s in sessions}
