"""The Django admin for safeguarding (at /staff/admin/)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from groups.admin import ReadOnlyAdmin
from safeguarding.models import (
    Concern,
    HelpLocation,
    HelpOrganization,
    HelpPhone,
    HelpSchedule,
    HelpService,
)
from safeguarding.policies import concerns_visible_to

# --- The "Get help now" directory (issue 17) ---------------------------------------------
# Staff edit the directory here; `manage.py import_services` loads it from HSDS files. An entry
# made here gets a new HSDS id, which a later import leaves alone.

# Addresses typed without a scheme are web addresses over https (Django 6's default).
URL_HTTPS = {models.URLField: {"assume_scheme": "https"}}


class HelpPhoneInline(admin.TabularInline):
    model = HelpPhone
    extra = 0
    fields = ("number", "description", "sort_order", "hsds_id")


class HelpScheduleInline(admin.TabularInline):
    model = HelpSchedule
    extra = 0
    fields = ("weekday", "opens_at", "closes_at", "description", "hsds_id")


class HelpLocationInline(admin.StackedInline):
    model = HelpLocation
    extra = 0
    fields = ("location_type", "name", "description", "address", "area", "hsds_id")


@admin.register(HelpService)
class HelpServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "category", "status", "sort_order")
    list_filter = ("status", "category")
    search_fields = ("name", "hsds_id", "organization__name")
    list_select_related = ("organization",)
    inlines = (HelpPhoneInline, HelpScheduleInline, HelpLocationInline)
    formfield_overrides = URL_HTTPS
    fields = (
        "name",
        "organization",
        "category",
        "status",
        "sort_order",
        "description",
        "eligibility_description",
        "application_process",
        "fees_description",
        "url",
        "email",
        "hsds_id",
    )


class HelpServiceInline(admin.TabularInline):
    model = HelpService
    extra = 0
    fields = ("name", "category", "status", "sort_order")
    show_change_link = True


@admin.register(HelpOrganization)
class HelpOrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "url")
    search_fields = ("name", "hsds_id")
    inlines = (HelpServiceInline,)
    formfield_overrides = URL_HTTPS
    fields = ("name", "description", "url", "email", "hsds_id")


# --- end of the help directory -----------------------------------------------------------


# --- Concerns (issue 19): only those the policy lets this admin see, never their text -------
# `policies.concerns_visible_to` is the queryset (an org admin who handles no group sees none);
# the body, replies and staff notes are read on the concern's own page, never here, and nothing
# is changed here: a concern moves only through its services.


@admin.register(Concern)
class ConcernAdmin(ReadOnlyAdmin):
    list_display = ("id", "group", "category", "urgency", "status", "created_at", "acknowledge_by")
    list_filter = ("status", "urgency", "category")
    list_select_related = ("group",)
    fields = (
        "group",
        "category",
        "urgency",
        "status",
        "created_at",
        "acknowledge_by",
        "acknowledged_at",
        "escalated_at",
        "closed_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Concern]:
        return concerns_visible_to(request.user).select_related("group")


# --- end of concerns -------------------------------------------------------------------------
