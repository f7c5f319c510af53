"""The Django admin for the live room's data (at /staff/admin/): the content-warning taxonomy,
which an org admin edits (issue 19). Messages are never registered: their text is not the
admin's to read.

Every write goes through `facilitation.services` (never a bare field edit): the change form's
save calls `content_warning_create` / `content_warning_update`, the list's actions call
`content_warning_retire`; each is audited and makes every process show the change on its next
read (`facilitation.taxonomy`). The form checks its fields with the same
`content_warning_clean`, so bad input is shown at the field and nothing is written. Nothing is
deleted: a category that messages may carry is retired instead (not offered any more, still
labelling them). Haven's own categories keep their translations while their words are Haven's;
words an admin typed are shown as she typed them, in every language.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from facilitation import services
from facilitation.models import ContentWarning
from facilitation.taxonomy import CONTENT_WARNINGS
from groups.admin import refused
from groups.policies import Action, can
from project.exceptions import ApplicationError, ValidationFailed

_SHIPPED = {key: (label, description) for key, label, description in CONTENT_WARNINGS}


class ContentWarningForm(forms.ModelForm):
    """The fields as typed, checked by the service's own `content_warning_clean`."""

    class Meta:
        model = ContentWarning
        fields = ("key", "label", "description", "position", "retired")
        help_texts = {
            "key": gettext_lazy(
                "A short name for Haven's own use, such as racism: small letters, digits and _. "
                "It cannot be changed later."
            ),
            "label": gettext_lazy(
                "The name members see. Haven's own words are shown in each member's language; "
                "words you type are shown as you typed them, in every language."
            ),
            "description": gettext_lazy("One line that says what the category covers."),
            "position": gettext_lazy(
                "Where it comes in the list: smaller numbers first. Haven's own are 0 to 9."
            ),
            "retired": gettext_lazy(
                "A retired category is not offered for new messages, sessions or plans. "
                "Messages already marked with it keep its label."
            ),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        adding = self.instance._state.adding
        try:
            services.content_warning_clean(
                label=data.get("label"),
                description=data.get("description", ""),
                position=data.get("position"),
                retired=bool(data.get("retired", False)),
                key=data.get("key", "") if adding else None,
            )
        except ValidationFailed as exc:
            for field, errors in exc.extra["fields"].items():
                if field in self.errors:
                    continue  # the form already said what is wrong there
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return data

    def validate_unique(self) -> None:
        """The service says when a key is taken (`content_warning_clean`)."""


@admin.register(ContentWarning)
class ContentWarningAdmin(admin.ModelAdmin):
    form = ContentWarningForm
    list_display = ("key", "label", "description", "position", "retired")
    list_filter = ("retired",)
    actions = ("retire", "offer_again")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Action.TAXONOMY_EDIT)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.TAXONOMY_EDIT)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retire it instead: messages may carry it

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["key", "label", "description", "position"]
        return ["key", "label", "description", "position", "retired", "haven_words"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["key", "haven_words"] if obj is not None else []

    @admin.display(description=gettext_lazy("Haven's own words"))
    def haven_words(self, obj: ContentWarning) -> str:
        """The shipped English, to go back to (then shown translated again)."""
        shipped = _SHIPPED.get(obj.key)
        return f"{shipped[0]}: {shipped[1]}" if shipped else _("None: this category is yours.")

    def save_model(
        self, request: HttpRequest, obj: ContentWarning, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            services.content_warning_update(
                actor=request.user,
                key=obj.pk,
                label=data["label"],
                description=data.get("description", ""),
                position=data["position"],
                retired=bool(data.get("retired", False)),
            )
        else:
            services.content_warning_create(
                actor=request.user,
                key=data["key"],
                label=data["label"],
                description=data.get("description", ""),
                position=data["position"],
            )

    def _set_retired(
        self, request: HttpRequest, queryset: QuerySet[ContentWarning], retired: bool
    ) -> int:
        try:
            return services.content_warning_retire(
                actor=request.user, keys=[cw.pk for cw in queryset], retired=retired
            )
        except ApplicationError as exc:
            refused(self, request, exc)
            return 0

    @admin.action(
        description=gettext_lazy("Retire the chosen categories (old messages keep their label)")
    )
    def retire(self, request: HttpRequest, queryset: QuerySet[ContentWarning]) -> None:
        done = self._set_retired(request, queryset, True)
        self.message_user(request, _("Retired: %(count)d.") % {"count": done})

    @admin.action(description=gettext_lazy("Offer the chosen categories again"))
    def offer_again(self, request: HttpRequest, queryset: QuerySet[ContentWarning]) -> None:
        done = self._set_retired(request, queryset, False)
        self.message_user(request, _("Offered again: %(count)d.") % {"count": done})
