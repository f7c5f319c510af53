"""A member's preferences: how content warnings reach her (per category, `show` or
`collapse`), and whether the hosts hear when she leaves a room quickly.

The read, with every default filled in, is `facilitation.selectors.preferences_effective`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from facilitation.selectors import LEAVE_QUICKLY_PREFERENCE
from facilitation.taxonomy import CW_COLLAPSE, CW_SHOW, warning_keys
from groups.models import User
from project.audit import audit_record
from project.exceptions import ValidationFailed


def preferences_update(
    *, actor: User, content_warnings: Any = None, tell_hosts_if_i_leave_quickly: Any = None
) -> User:
    """Set how content warnings reach this member, per category (`show` or `collapse`), and
    whether the hosts hear when she leaves a room by the quick exit. None: left as it is."""
    fields: dict[str, list[str]] = {}
    if content_warnings is not None and not isinstance(content_warnings, dict):
        fields["preferences.content_warnings"] = [_("Give a choice for each category.")]
        content_warnings = None
    known = warning_keys() if content_warnings else frozenset()
    for key, choice in (content_warnings or {}).items():
        if key not in known:
            fields[f"preferences.content_warnings.{key}"] = [_("There is no such category.")]
        elif choice not in {CW_SHOW, CW_COLLAPSE}:
            fields[f"preferences.content_warnings.{key}"] = [_("Choose show or collapse.")]
    tell = tell_hosts_if_i_leave_quickly
    if tell is not None and not isinstance(tell, bool):
        fields[f"preferences.{LEAVE_QUICKLY_PREFERENCE}"] = [_("Choose yes or no.")]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        preferences = dict(user.preferences or {})
        if content_warnings is not None:
            merged = {**preferences.get("content_warnings", {}), **content_warnings}
            preferences["content_warnings"] = merged
        if tell is not None:
            preferences[LEAVE_QUICKLY_PREFERENCE] = tell
        user.preferences = preferences
        user.save(update_fields=["preferences"])
        audit_record(
            actor=actor,
            action="preferences.updated",
            target=user,
            extra={
                "categories": len(content_warnings or {}),
                LEAVE_QUICKLY_PREFERENCE: tell,
            },
        )
    return user
