"""Writes about the audit log itself."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from groups.models import User
from groups.policies import Action, require
from project.audit import audit_record


@transaction.atomic
def audit_exported(*, actor: User, filters: dict[str, Any], count: int) -> None:
    """Downloading the audit log is itself recorded: which filters were used (ids and action
    names only) and how many entries left."""
    require(actor, Action.AUDIT_VIEW)
    audit_record(
        actor=actor,
        action="audit.exported",
        extra={"count": count, **{key: value for key, value in filters.items() if value}},
    )
