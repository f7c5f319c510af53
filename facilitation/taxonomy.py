"""The content-warning taxonomy: the categories Haven ships with, and the table an admin edits.

Haven ships the categories in `CONTENT_WARNINGS` (English marked for translation); migration
0002 made them the rows of `ContentWarning`. An org admin edits the rows at /staff/admin/, and
only through `facilitation.services` (`content_warning_create`, `content_warning_update`,
`content_warning_retire`: validated, audited): she changes a category's words or its place in
the list, adds her own, and retires one instead of deleting it.

The words shown, field by field (`shown`): a label or description still equal to the shipped
English is shown translated in the reader's language; anything else is the admin's own wording,
shown as she typed it in every language. Lists are in the rows' `position` order.

Reads go through Django's cache (Redis with several processes, one process's memory embedded):
the rows under `CACHE_KEY`, read from the table once on a miss. Every change forgets the key
when its transaction commits (`taxonomy_forget`), so every process's next read sees it; a miss
that raced a change keeps the old rows for at most `CACHE_SECONDS`. A retired category still
labels what was marked with it (`warning_label`, `warning_labels`, `categories`) but is not
offered (`translated_warnings`) nor accepted for anything new (`clean_warning`,
`clean_warning_list`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from facilitation.models import ContentWarning
from project.exceptions import ValidationFailed
from project.text import clean_text

logger = logging.getLogger(__name__)

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

# The shipped categories' keys (tests and the migration use them); what the table holds now is
# `warning_keys()`.
CONTENT_WARNING_KEYS = frozenset(key for key, _label, _description in CONTENT_WARNINGS)
_BY_KEY = {key: (label, description) for key, label, description in CONTENT_WARNINGS}

CACHE_KEY = "facilitation:taxonomy:1"
CACHE_SECONDS = 600


class Row(NamedTuple):
    """A category as stored (the English as the admin left it)."""

    key: str
    label: str
    description: str
    position: int
    retired: bool


@dataclass(frozen=True)
class Category:
    """A category as shown, in the active language."""

    key: str
    label: str
    description: str
    retired: bool


def _rows() -> list[Row]:
    """Every row in `position` order: from the cache, else one read of the table.

    The cache is Redis in production: while Redis is away (a restart, catalogue #15) the
    table is read every time instead, so a warned message, the room page and Settings keep
    working; only the saving is lost."""
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:
        logger.warning("taxonomy: the cache could not be read; reading the table")
        cached = None
        reachable = False
    else:
        reachable = True
    if cached is None:
        cached = list(
            ContentWarning.objects.order_by("position", "key").values_list(
                "key", "label", "description", "position", "retired"
            )
        )
        if reachable:
            try:
                cache.set(CACHE_KEY, cached, timeout=CACHE_SECONDS)
            except Exception:
                logger.warning("taxonomy: the cache could not be written")
    return [Row(*row) for row in cached]


def _forget_now() -> None:
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        # Saved and audited already; the cached rows expire within CACHE_SECONDS.
        logger.warning("taxonomy: the cache could not be cleared; it expires on its own")


def taxonomy_forget() -> None:
    """Forget the cached rows once the current transaction commits (now, outside one), so the
    next read in any process reads the table. Called by every service that changes a row."""
    transaction.on_commit(_forget_now)


def shown(key: str, stored: str, *, description: bool = False) -> str:
    """A row's label (or description) as shown: the shipped English translated, an admin's own
    words as she typed them."""
    shipped = _BY_KEY.get(key)
    if shipped is not None and stored and stored == shipped[1 if description else 0]:
        return _(stored)
    return stored


def _category(row: Row) -> Category:
    return Category(
        key=row.key,
        label=shown(row.key, row.label),
        description=shown(row.key, row.description, description=True),
        retired=row.retired,
    )


def categories() -> list[Category]:
    """Every category, retired ones too, in order, in the active language."""
    return [_category(row) for row in _rows()]


def translated_warnings() -> list[tuple[str, str, str]]:
    """(key, label, description) of every category offered (not retired), in order, in the
    active language: what a member, a host or a facilitator chooses from."""
    return [(c.key, c.label, c.description) for c in categories() if not c.retired]


def warning_labels() -> dict[str, str]:
    """Every category's label (retired ones too: they label what was marked with them)."""
    return {c.key: c.label for c in categories()}


def warning_keys(*, offered: bool = False) -> frozenset[str]:
    """The keys of every category (`offered`: of those not retired)."""
    return frozenset(row.key for row in _rows() if not (offered and row.retired))


def warning_label(key: str) -> str:
    """A category's label in the active language (an unknown key is shown as it is)."""
    return warning_labels().get(key, key)


def warning_description(key: str) -> str:
    """A category's description in the active language (empty for an unknown key)."""
    return next((c.description for c in categories() if c.key == key), "")


def clean_warning_list(value: Any, field: str, *, kept: Collection[str] = ()) -> list[str]:
    """A list of category keys (a session's or a plan item's warnings), in the order given.
    A retired category is refused unless it is in `kept` (what the thing already had)."""
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ValidationFailed({field: [_("Give a list of content-warning keys.")]})
    rows = {row.key: row for row in _rows()}
    if any(key not in rows for key in value):
        raise ValidationFailed({field: [_("Unknown content-warning categories.")]})
    if any(rows[key].retired and key not in kept for key in value):
        raise ValidationFailed({field: [_("One of these categories is no longer offered.")]})
    return sorted(set(value), key=value.index)


def clean_warning(value: Any) -> tuple[str, str]:
    """(category, note) from a message's `content_warning` field; ("", "") for none."""
    if value is None:
        return "", ""
    if not isinstance(value, dict):
        raise ValidationFailed({"content_warning": [_("Give a category, or null.")]})
    category = value.get("category")
    rows = {row.key: row for row in _rows()}
    if not isinstance(category, str) or category not in rows:
        raise ValidationFailed({"content_warning.category": [_("There is no such category.")]})
    if rows[category].retired:
        raise ValidationFailed(
            {"content_warning.category": [_("This category is no longer offered.")]}
        )
    note = clean_text(
        value.get("note"), field="content_warning.note", max_length=CW_NOTE_MAX, required=False
    )
    return category, note
