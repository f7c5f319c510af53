"""The Django admin for what every app shares: when each scheduled job last ran (what /readyz
reads), read only. The audit log is read on the audit page, where the concern rule applies."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from project.models import MaintenanceRun


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
