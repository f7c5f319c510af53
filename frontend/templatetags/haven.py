"""Small template helpers for Haven's pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get(mapping: dict[str, Any], key: str) -> Any:
    """`{{ labels|get:key }}`: a dictionary lookup by a variable key."""
    return mapping.get(key, key)
