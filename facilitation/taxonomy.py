"""The content-warning taxonomy Haven ships with.

The rows are created by migration 0002 from this list; labels and descriptions are marked
for translation here and translated when they are shown. Adding a category needs a migration.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop as N_

CONTENT_WARNINGS: list[tuple[str, str, str]] = [
    (
        "sexual_violence",
        N_("Sexual violence"),
        N_("Rape, sexual assault or being made to do sexual things."),
    ),
    (
        "physical_violence",
        N_("Physical violence"),
        N_("Being hit, hurt or threatened with harm, by clients, partners or anyone else."),
    ),
    (
        "childhood_abuse",
        N_("Abuse in childhood"),
        N_("Things that happened when someone was a child."),
    ),
    (
        "suicide_self_harm",
        N_("Suicide and self-harm"),
        N_("Thoughts of ending your life, or hurting yourself."),
    ),
    (
        "substance_use",
        N_("Substance use"),
        N_("Drugs or alcohol, using, withdrawal or overdose."),
    ),
    (
        "child_removal",
        N_("Child removal and custody"),
        N_("Children taken into care, custody disputes, social services."),
    ),
    (
        "police_courts",
        N_("Police and courts"),
        N_("Arrests, police contact, court cases, prison."),
    ),
    (
        "death_grief",
        N_("Death and grief"),
        N_("Losing someone, or talking about death."),
    ),
    (
        "eating_body_image",
        N_("Eating and body image"),
        N_("Eating problems, weight, how bodies look."),
    ),
    (
        "other",
        N_("Other"),
        N_("Something else that might be hard to read. The note says what."),
    ),
]

CONTENT_WARNING_KEYS = frozenset(key for key, _label, _description in CONTENT_WARNINGS)
