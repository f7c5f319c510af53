"""Builders for the JSON events the groups app broadcasts.

Recipients are a security decision (ARCHITECTURE.md rule 5): each builder says in its docstring
who receives its event; the services send it there through `project.realtime`.
"""

from __future__ import annotations

from typing import Any


def member_role_changed(*, member_id: int, role: str) -> dict[str, Any]:
    """To that member's own connections (`realtime.member_group`) when a facilitator changes
    her role, so her open room knows what she may do now."""
    return {"type": "member.role_changed", "member_id": member_id, "role": role}
