"""The content-warning taxonomy, as an org admin edits it in the admin (issue 19).

Three writes: add a category of her own, change one (its words, its place in the list, retired
or not), retire or bring back several. Each is validated first (every field's problem at once,
nothing written on bad input), audited with the key and the names of the fields that changed
(never the words), and forgets the cached taxonomy when it commits, so every process shows the
change on its next read (`facilitation.taxonomy`). A category is never deleted: messages,
sessions and plans keep its key, and a retired one still labels them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from facilitation.models import CW_DESCRIPTION_MAX, CW_KEY_MAX, CW_LABEL_MAX, ContentWarning
from facilitation.taxonomy import taxonomy_forget
from groups.models import User
from groups.policies import Action, require
from project.audit import audit_record
from project.exceptions import NotFound, ValidationFailed
from project.text import clean_text

# Where a category may sit in the list (the shipped ones are 0 to 9).
CW_POSITION_MAX = 10_000
_KEY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class CategoryWords:
    """A category's fields as the admin gave them, checked."""

    label: str
    description: str
    position: int
    retired: bool


def _clean_key(value: Any) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value) or len(value) > CW_KEY_MAX:
        raise ValidationFailed(
            {
                "key": [
                    _(
                        "Use small letters, digits and _ only, starting with a letter "
                        "(at most %(max)d)."
                    )
                    % {"max": CW_KEY_MAX}
                ]
            }
        )
    if ContentWarning.objects.filter(pk=value).exists():
        raise ValidationFailed({"key": [_("There is already a category with this key.")]})
    return value


def _clean_position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CW_POSITION_MAX:
        raise ValidationFailed(
            {"position": [_("Give a whole number from 0 to %(max)d.") % {"max": CW_POSITION_MAX}]}
        )
    return value


def content_warning_clean(
    *, label: Any, description: Any, position: Any, retired: Any = False, key: Any = None
) -> CategoryWords:
    """Check a category's fields (and a new one's `key`); raises ValidationFailed with every
    field's problem at once. Writes nothing: the admin's form calls it to show the errors."""
    fields: dict[str, list[str]] = {}
    checked: dict[str, Any] = {}
    checks = {
        "label": lambda: clean_text(label, field="label", max_length=CW_LABEL_MAX, one_line=True),
        "description": lambda: clean_text(
            description,
            field="description",
            max_length=CW_DESCRIPTION_MAX,
            required=False,
            one_line=True,
        ),
        "position": lambda: _clean_position(position),
    }
    if key is not None:
        checks["key"] = lambda: _clean_key(key)
    for name, check in checks.items():
        try:
            checked[name] = check()
        except ValidationFailed as exc:
            fields.update(exc.extra["fields"])
    if not isinstance(retired, bool):
        fields["retired"] = [_("Choose yes or no.")]
    if fields:
        raise ValidationFailed(fields)
    return CategoryWords(
        label=checked["label"],
        description=checked["description"],
        position=checked["position"],
        retired=retired,
    )


@transaction.atomic
def content_warning_create(
    *, actor: User, key: Any, label: Any, description: Any = "", position: Any = 0
) -> ContentWarning:
    """A category of the organisation's own, offered from now on; shown as she typed it."""
    require(actor, Action.TAXONOMY_EDIT)
    # A missing key is a bad key ("" fails its check), never a skipped check.
    key = "" if key is None else key
    words = content_warning_clean(label=label, description=description, position=position, key=key)
    try:
        with transaction.atomic():
            category = ContentWarning.objects.create(
                key=key, label=words.label, description=words.description, position=words.position
            )
    except IntegrityError:
        # Another admin saved the same key between the check and this insert.
        raise ValidationFailed({"key": [_("There is already a category with this key.")]}) from None
    audit_record(actor=actor, action="content_warning.created", target=category)
    taxonomy_forget()
    return category


@transaction.atomic
def content_warning_update(
    *, actor: User, key: Any, label: Any, description: Any, position: Any, retired: Any = False
) -> ContentWarning:
    """Change a category's words, its place in the list, or whether it is retired. Words set
    back to the shipped English are shown translated again."""
    require(actor, Action.TAXONOMY_EDIT)
    words = content_warning_clean(
        label=label, description=description, position=position, retired=retired
    )
    category = ContentWarning.objects.select_for_update().filter(pk=key).first()
    if category is None:
        raise NotFound()
    changed = [
        name
        for name in ("label", "description", "position", "retired")
        if getattr(category, name) != getattr(words, name)
    ]
    if not changed:
        return category
    for name in changed:
        setattr(category, name, getattr(words, name))
    category.save(update_fields=changed)
    audit_record(
        actor=actor,
        action="content_warning.updated",
        target=category,
        extra={"changed": changed, "retired": category.retired},
    )
    taxonomy_forget()
    return category


@transaction.atomic
def content_warning_retire(*, actor: User, keys: Iterable[str], retired: bool = True) -> int:
    """Retire categories (not offered any more; still labelling what they marked), or bring
    them back (`retired=False`). Returns how many changed."""
    require(actor, Action.TAXONOMY_EDIT)
    changing = list(
        ContentWarning.objects.select_for_update()
        .filter(pk__in=list(keys))
        .exclude(retired=retired)
        .order_by("key")
    )
    for category in changing:
        category.retired = retired
        category.save(update_fields=["retired"])
        audit_record(
            actor=actor,
            action="content_warning.updated",
            target=category,
            extra={"changed": ["retired"], "retired": retired},
        )
    if changing:
        taxonomy_forget()
    return len(changing)
