"""The organisation's words on the front door, About and the referral pack (issue 17): its name
and contact line, from the admin (`project.models.Organisation`) field by field, else from the
environment. Blank both ways: the pages' own neutral, translated wording."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

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
