"""The Django admin for the live room's data (at /staff/admin/): the content-warning taxonomy,
read only. Its categories and their words are Haven's own (facilitation/taxonomy.py), translated
by key and created by a migration, so a change here would not reach any page: a new category
is a change to Haven, not to a row. Messages are never registered: their text is not the
admin's to read."""

from __future__ import annotations

from django.contrib import admin

from facilitation.models import ContentWarning
from groups.admin import ReadOnlyAdmin


@admin.register(ContentWarning)
class ContentWarningAdmin(ReadOnlyAdmin):
    list_display = ("key", "label", "description", "position")
    fields = ("key", "label", "description", "position")
