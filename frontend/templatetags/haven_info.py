"""The operator's words on Haven's information pages (issue 17): the organisation's name and
contact line, and its own "Who sees what" text when it set one."""

from __future__ import annotations

from typing import TypedDict

from django import template
from django.conf import settings

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


@register.simple_tag
def organisation_name() -> str:
    return settings.HAVEN_ORGANISATION_NAME


@register.simple_tag
def organisation_contact() -> str:
    return settings.HAVEN_ORGANISATION_CONTACT
