"""The DRF adapter of `groups.policies`: views name an action, the policy decides."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from groups.policies import Action, group_for


class HasGroupAction(BasePermission):
    """Fetch the group named by the URL's `group_id` and authorise the view's action on it.

    The view names its action per method in `group_actions`; the group is kept on the request
    as `request.haven_group`. Missing and invisible groups both answer 404.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        actions: dict[str, Action] = getattr(view, "group_actions", {})
        action = actions.get(request.method or "GET", Action.GROUP_VIEW)
        request.haven_group = group_for(request.user, view.kwargs.get("group_id"), action)
        return True
