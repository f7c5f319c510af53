"""Values every page needs: the quick-exit target and the signed-in person's org role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def haven(request: HttpRequest) -> dict[str, Any]:
    return {"exit_url": settings.HAVEN_NEUTRAL_EXIT_URL}
