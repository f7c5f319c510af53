"""What only a host reads when she enters a room (her `session.state`): which of her reads can
find anything, and who is muted until when or was removed (issue 20)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from facilitation import events, sql
from facilitation.models import Participant
from project.sql import prepared_cursor


def hosts_gate(session_id: int) -> sql.HostsGate:
    """Which of a host's three `session.state` reads can find anything, in one plain-SQL
    statement (issue 20: as ORM reads they were a quarter of a host's entry, and most
    sessions have no mute, removal or open request)."""
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.hosts()["gate"],
            [session_id, sql.db_time(timezone.now()), session_id, session_id],
        )
        found = cursor.fetchone()
    return sql.HostsGate(*(bool(value) for value in found))


def decided_for_hosts(session_id: int) -> tuple[dict[int, datetime], list[dict[str, Any]]]:
    """Who is muted until when, and who was removed (in that order, as `events.removed_entry`),
    for a host's `session.state`: one read of the participant rows (issue 20)."""
    now = timezone.now()
    rows = list(
        Participant.objects.filter(Q(muted_until__gt=now) | Q(removed_at__isnull=False))
        .filter(session_id=session_id)
        .order_by("removed_at", "pk")
        .values_list("membership_id", "muted_until", "removed_at", "membership__display_name")
    )
    mutes = {pk: until for pk, until, _gone, _name in rows if until is not None and until > now}
    removed = [
        events.removed_entry(member_id=pk, display_name=name)
        for pk, _until, gone, name in rows
        if gone is not None
    ]
    return mutes, removed
