"""The Django admin for accounts and groups (at /staff/admin/, org admins with their code).

Read-mostly: nothing is added, edited or deleted here by hand. What an admin may do goes
through the services, as on the pages: switch accounts off (`staff.account_switch_off`: her
tokens, sessions and live sockets end) and give a member a one-time reset code
(`reset_code_issue`, shown once in the answer, audited without the code). The policy decides
each, for each account; a refusal is said, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from groups.models import Group, Membership, User
from groups.services import reset_code_issue
from groups.services.staff import account_switch_off
from project.exceptions import ApplicationError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted through the admin's own forms."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def refused(modeladmin: admin.ModelAdmin, request: HttpRequest, exc: ApplicationError) -> None:
    modeladmin.message_user(request, str(exc.message), level=messages.ERROR)


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ("username", "org_role", "is_active", "last_login", "date_joined")
    list_filter = ("org_role", "is_active")
    search_fields = ("username",)
    fields = ("username", "org_role", "is_active", "last_login", "date_joined")
    actions = ("switch_off",)

    @admin.action(description=gettext_lazy("Switch off the chosen accounts (signs them out now)"))
    def switch_off(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset:
            try:
                account_switch_off(actor=request.user, user_id=user.pk)
            except ApplicationError as exc:
                refused(self, request, exc)
                continue
            done += 1
        if done:
            self.message_user(request, _("Switched off: %(count)d.") % {"count": done})


@admin.register(Group)
class GroupAdmin(ReadOnlyAdmin):
    list_display = ("name", "retention_days", "created_at")
    fields = ("name", "description", "retention_days", "created_at")


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("id", "display_name", "group", "role", "status", "joined_at")
    list_filter = ("role", "status")
    list_select_related = ("group",)
    fields = ("display_name", "group", "role", "status", "joined_at", "ended_at", "paused_until")
    actions = ("reset_code",)

    @admin.action(description=gettext_lazy("Give a one-time password reset code"))
    def reset_code(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> TemplateResponse | None:
        chosen = list(queryset.select_related("user")[:2])
        if len(chosen) != 1:
            self.message_user(request, _("Choose one member at a time."), level=messages.ERROR)
            return
        try:
            code = reset_code_issue(actor=request.user, member=chosen[0])
        except ApplicationError as exc:
            refused(self, request, exc)
            return
        # Shown in this answer alone (a message would keep it in a cookie until shown).
        return TemplateResponse(
            request,
            "admin/groups/reset_code.html",
            {**self.admin_site.each_context(request), "code": code, "back": request.path},
        )
