"""Issue 16, afterwards, on pages other parts own: one line to include each.

- `{% load afterwards %}{% group_afterwards group %}` on the group page: the latest handover
  note for the next facilitator and a link to Past sessions (nothing for anyone else).
- `{% load afterwards %}{% talk_requests %}` on a safeguarding lead's pages: who asked to talk
  after a hard session (nothing for anyone else).
"""

from __future__ import annotations

from typing import Any

from django import template

from facilitation import selectors as session_selectors
from groups.models import Group
from groups.policies import Action, can

register = template.Library()


@register.inclusion_tag("frontend/_group_afterwards.html", takes_context=True)
def group_afterwards(context: template.Context, group: Group) -> dict[str, Any]:
    viewer = context["request"].user
    return {
        "group": group,
        "handover": session_selectors.handover_latest(viewer=viewer, group=group),
        "past": can(viewer, Action.PAST_SESSIONS_VIEW, group=group),
    }


@register.inclusion_tag("frontend/_talk_requests.html", takes_context=True)
def talk_requests(context: template.Context) -> dict[str, Any]:
    viewer = context["request"].user
    return {"talk_requests": list(session_selectors.talk_requests_for(viewer))}
