"""The Django admin for what every app shares: when each scheduled job last ran (what /readyz
reads), read only; and the organisation's words on the front door (issue 17). The audit log is
read on the audit page, where the concern rule applies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from project.models import MaintenanceRun, Organisation


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(admin.ModelAdmin):
    list_display = ("name", "finished_at")
    fields = ("name", "finished_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """One row: added once, then changed; never deleted (blank fields fall back to the
    environment instead)."""

    fields = ("name", "contact")
    list_display = ("__str__", "name", "contact", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Organisation.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
