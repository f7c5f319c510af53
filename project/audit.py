"""The audit log: one row per action that matters, written inside the acting transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from project.models import AuditEntry

# Keys that would let text (bodies, notes, names, reasons, tokens) into the audit log.
FORBIDDEN_EXTRA_KEYS = frozenset(
    {"body", "text", "note", "reason", "display_name", "name", "token", "code", "password"}
)


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    group_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write an audit row. Call inside the service's transaction so both commit or neither."""
    extra = dict(extra or {})
    leaked = FORBIDDEN_EXTRA_KEYS.intersection(extra)
    if leaked:
        raise ValueError(f"audit extra may not carry text fields: {sorted(leaked)}")
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target.pk
    actor_id = getattr(actor, "pk", None) if actor is not None else None
    return AuditEntry.objects.create(
        actor_id=actor_id if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target_type or "",
        target_id=str(target_id) if target_id is not None else "",
        group_id=group_id,
        extra=extra,
    )
