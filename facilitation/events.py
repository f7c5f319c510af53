"""Builders for the JSON events the live room sends, and the names of the groups they go to.

Every builder returns a plain JSON-able dict (tests round-trip each one). Durable events get
their `seq` from the session log when they are appended (`services.event_append`).
"""

from __future__ import annotations

from typing import Any


def session_group(session_id: int) -> str:
    """Every connection in one session's room (public session events only)."""
    return f"session.{session_id}"


def hosts_group(session_id: int) -> str:
    """The hosts present in one session's room (support requests, concern alerts)."""
    return f"session.{session_id}.hosts"


def session_status(*, status: str, note: str | None) -> dict[str, Any]:
    return {"type": "session.status", "status": status, "note": note}
