"""How content warnings reach a member: her choice per category (`show` or `collapse`).

The read, with every category filled in, is `facilitation.selectors.preferences_effective`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from facilitation.taxonomy import CONTENT_WARNING_KEYS, CW_COLLAPSE, CW_SHOW
from groups.models import User
from project.audit import audit_record
from project.exceptions import ValidationFailed


def preferences_update(*, actor: User, content_warnings: Any) -> User:
    """Set how content warnings reach this member, per category: `show` or `collapse`."""
    if not isinstance(content_warnings, dict):
        raise ValidationFailed(
            {"preferences.content_warnings": [_("Give a choice for each category.")]}
        )
    fields: dict[str, list[str]] = {}
    for key, choice in content_warnings.items():
        if key not in CONTENT_WARNING_KEYS:
            fields[f"preferences.content_warnings.{key}"] = [_("There is no such category.")]
        elif choice not in {CW_SHOW, CW_COLLAPSE}:
            fields[f"preferences.content_warnings.{key}"] = [_("Choose show or collapse.")]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        preferences = dict(user.preferences or {})
        merged = {**preferences.get("content_warnings", {}), **content_warnings}
        preferences["content_warnings"] = merged
        user.preferences = preferences
        user.save(update_fields=["preferences"])
        audit_record(
            actor=actor,
            action="preferences.updated",
            target=user,
            extra={"categories": len(content_warnings)},
        )
    return user
