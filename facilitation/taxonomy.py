"""The content-warning taxonomy Haven ships with.

The rows are created by migration 0002 from this list; labels and descriptions are marked
for translation here and translated when they are shown, looked up by the category's stable key
(`warning_label`, `translated_warnings`), never from the English stored in the rows. Adding a
category needs a migration.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from project.exceptions import ValidationFailed
from project.text import clean_text

# How a member wants warned content to reach her, per category.
CW_SHOW, CW_COLLAPSE = "show", "collapse"
CW_NOTE_MAX = 200

CONTENT_WARNINGS: list[tuple[str, str, str]] = [
    (
        "sexual_violence",
        gettext_noop("Sexual violence"),
        gettext_noop("Rape, sexual assault or being made to do sexual things."),
    ),
    (
        "physical_violence",
        gettext_noop("Physical violence"),
        gettext_noop(
            "Being hit, hurt or threatened with harm, by clients, partners or anyone else."
        ),
    ),
    (
        "childhood_abuse",
        gettext_noop("Abuse in childhood"),
        gettext_noop("Things that happened when someone was a child."),
    ),
    (
        "suicide_self_harm",
        gettext_noop("Suicide and self-harm"),
        gettext_noop("Thoughts of ending your life, or hurting yourself."),
    ),
    (
        "substance_use",
        gettext_noop("Substance use"),
        gettext_noop("Drugs or alcohol, using, withdrawal or overdose."),
    ),
    (
        "child_removal",
        gettext_noop("Child removal and custody"),
        gettext_noop("Children taken into care, custody disputes, social services."),
    ),
    (
        "police_courts",
        gettext_noop("Police and courts"),
        gettext_noop("Arrests, police contact, court cases, prison."),
    ),
    (
        "death_grief",
        gettext_noop("Death and grief"),
        gettext_noop("Losing someone, or talking about death."),
    ),
    (
        "eating_body_image",
        gettext_noop("Eating and body image"),
        gettext_noop("Eating problems, weight, how bodies look."),
    ),
    (
        "other",
        gettext_noop("Other"),
        gettext_noop("Something else that might be hard to read. The note says what."),
    ),
]

CONTENT_WARNING_KEYS = frozenset(key for key, _label, _description in CONTENT_WARNINGS)
_BY_KEY = {key: (label, description) for key, label, description in CONTENT_WARNINGS}


def warning_label(key: str) -> str:
    """A category's label in the active language (an unknown key is shown as it is)."""
    return _(_BY_KEY[key][0]) if key in _BY_KEY else key


def warning_description(key: str) -> str:
    """A category's description in the active language (empty for an unknown key)."""
    return _(_BY_KEY[key][1]) if key in _BY_KEY else ""


def translated_warnings() -> list[tuple[str, str, str]]:
    """(key, label, description) of every category, in order, in the active language."""
    return [(key, _(label), _(description)) for key, label, description in CONTENT_WARNINGS]


def clean_warning_list(value: Any, field: str) -> list[str]:
    """A list of category keys (a session's or a plan item's warnings), in the order given."""
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ValidationFailed({field: [_("Give a list of content-warning keys.")]})
    unknown = sorted(set(value) - CONTENT_WARNING_KEYS)
    if unknown:
        raise ValidationFailed({field: [_("Unknown content-warning categories.")]})
    return sorted(set(value), key=value.index)


def clean_warning(value: Any) -> tuple[str, str]:
    """(category, note) from a message's `content_warning` field; ("", "") for none."""
    if value is None:
        return "", ""
    if not isinstance(value, dict):
        raise ValidationFailed({"content_warning": [_("Give a category, or null.")]})
    category = value.get("category")
    if not isinstance(category, str) or category not in CONTENT_WARNING_KEYS:
        raise ValidationFailed({"content_warning.category": [_("There is no such category.")]})
    note = clean_text(
        value.get("note"), field="content_warning.note", max_length=CW_NOTE_MAX, required=False
    )
    return category, note
