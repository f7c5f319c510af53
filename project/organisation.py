"""The organisation's words on the front door, About and the referral pack (issue 17): its name
and contact line, from the admin (`project.models.Organisation`) field by field, else from the
environment. Blank both ways: the pages' own neutral, translated wording. Also the urgent help
line ("If you are in danger now"), with its default label in her language."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from project import config
from project.models import Organisation


@dataclass(frozen=True)
class OrganisationWords:
    name: str
    contact: str


def organisation_words() -> OrganisationWords:
    """One indexed read; an admin's change shows on the next page load."""
    row = (
        Organisation.objects.filter(pk=Organisation.SINGLE).values("name", "contact").first() or {}
    )
    return OrganisationWords(
        name=(row.get("name") or "").strip() or settings.HAVEN_ORGANISATION_NAME,
        contact=(row.get("contact") or "").strip() or settings.HAVEN_ORGANISATION_CONTACT,
    )


def urgent_help() -> list[dict[str, str]]:
    """`HAVEN_URGENT_HELP` as shown: Haven's own default label in her language; an operator's
    own words stay as written (they are the organisation's, in the language it chose)."""
    defaults = {entry["label"] for entry in config.URGENT_HELP_DEFAULT}
    return [
        {**entry, "label": gettext(entry["label"])} if entry["label"] in defaults else dict(entry)
        for entry in settings.HAVEN_URGENT_HELP
    ]
