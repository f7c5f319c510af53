"""Builders for the JSON events about concerns (PROTOCOL.md "Concerns").

Recipients are a security decision (ARCHITECTURE.md rule 5): these events go to the private
groups that `safeguarding.policies` names, never to a session group, and they never carry a
concern's text, its notes or who it is about; only its id and what a handler needs to triage.
"""

from __future__ import annotations

from typing import Any


def concern_raised(*, concern_id: int, urgency: str) -> dict[str, Any]:
    """To its handlers (`policies.concern_handler_groups`) when raised, and to the leads
    (`policies.concern_lead_groups`) when it is escalated to them."""
    return {"type": "concern.raised", "concern_id": concern_id, "urgency": urgency}


def concern_updated(*, concern_id: int, status: str) -> dict[str, Any]:
    """To its handlers and its reporter (`policies.concern_update_groups`) when it moves or gets
    a reply: that it changed, never what changed."""
    return {"type": "concern.updated", "concern_id": concern_id, "status": status}


def concern_answered(*, concern_id: int) -> dict[str, Any]:
    """To the woman who raised it (`policies.concern_reporter_groups`) when someone who handles
    it answers her or moves it: that an answer waits unread (the dot on Concerns, issue 17),
    never what it says."""
    return {"type": "concern.answered", "concern_id": concern_id, "unread": True}
