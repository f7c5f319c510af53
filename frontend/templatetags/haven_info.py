"""The operator's words on Haven's information pages (issue 17): the organisation's name and
contact line (the admin's, else the environment's: `project.organisation`), and its own "Who
sees what" text when it set one."""

from __future__ import annotations

from typing import Any, TypedDict

from django import template
from django.conf import settings

from project.organisation import OrganisationWords, organisation_words

register = template.Library()


class Block(TypedDict):
    bullets: bool
    lines: list[str]


@register.simple_tag
def who_sees_what_blocks() -> list[Block]:
    """The blocks of HAVEN_WHO_SEES_WHAT's file (checked at start-up), each a bulleted list
    when every line starts with "- ", else a paragraph; [] when the operator set none."""
    blocks: list[Block] = []
    for lines in settings.HAVEN_WHO_SEES_WHAT:
        if all(line.startswith("- ") for line in lines):
            blocks.append({"bullets": True, "lines": [line[2:].strip() for line in lines]})
        else:
            blocks.append({"bullets": False, "lines": [" ".join(lines)]})
    return blocks


def _words(context: Any) -> OrganisationWords:
    """Read once per page, however many times the page names the organisation."""
    request = context.get("request")
    found = getattr(request, "haven_organisation", None)
    if found is None:
        found = organisation_words()
        if request is not None:
            request.haven_organisation = found
    return found


@register.simple_tag(takes_context=True)
def organisation_name(context: Any) -> str:
    return _words(context).name


@register.simple_tag(takes_context=True)
def organisation_contact(context: Any) -> str:
    return _words(context).contact
