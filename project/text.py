"""The one cleaner of free text that a person types: notes, reasons, titles, prompts, points.

Every service that takes text calls `clean_text`, so "what counts as empty", "how long may it
be" and the words of the refusal are spelled once. Limits are named constants in the service
that owns the field; serializers import the same constants instead of repeating numbers.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from project.exceptions import ValidationFailed


def clean_text(
    value: Any,
    *,
    field: str,
    max_length: int,
    required: bool = True,
    one_line: bool = False,
    missing: str | None = None,
) -> str:
    """The text without surrounding space (`one_line`: inner runs of space become one space).

    `None` counts as empty; anything that is not a string is refused. Raises `ValidationFailed`
    with one message for `field`: `missing` (or a plain default) when required text is empty,
    or the length limit. Returns "" for optional text left empty.
    """
    if value is None:
        text = ""
    elif not isinstance(value, str):
        raise ValidationFailed({field: [_("Write this in words.")]})
    else:
        text = " ".join(value.split()) if one_line else value.strip()
    if required and not text:
        raise ValidationFailed({field: [missing or _("Please write something here.")]})
    if len(text) > max_length:
        raise ValidationFailed(
            {field: [_("Use at most %(max)d characters.") % {"max": max_length}]}
        )
    return text
