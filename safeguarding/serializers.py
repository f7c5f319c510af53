"""Shapes of the concerns, audit and data-rights REST edge (PROTOCOL.md "Concerns")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from groups.services import PASSWORD_MAX
from project.exceptions import MAX_ID
from project.models import AuditEntry
from safeguarding.models import Category, ConcernStatus, Urgency
from safeguarding.policies import ConcernRole, is_reporter
from safeguarding.selectors import concern_messages, has_unread_answer, is_overdue, owner_names
from safeguarding.services import BODY_MAX, MAX_MESSAGES, NOTE_MAX, STAFF_NOTE_MAX

STAMP = serializers.DateTimeField()


def stamp(value: Any) -> str | None:
    return STAMP.to_representation(value) if value is not None else None


class ConcernCreateInput(serializers.Serializer):
    group_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    category = serializers.ChoiceField(choices=Category.choices)
    body = serializers.CharField(max_length=BODY_MAX)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)
    about_member_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    message_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_MESSAGES,
    )
    share_with_peer_mentors = serializers.BooleanField(default=False)
    to_lead = serializers.BooleanField(
        default=False,
        help_text="Straight to the safeguarding leads (about a host or how the group is run): "
        "the group's facilitators and peer mentors never see it.",
    )


class ConcernCreatedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ConcernStatus.choices)
    acknowledge_by = serializers.DateTimeField()


class ConcernReplyInput(serializers.Serializer):
    body = serializers.CharField(max_length=BODY_MAX)


class ConcernStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConcernStatus.choices)
    note_to_reporter = serializers.CharField(
        max_length=NOTE_MAX, required=False, allow_blank=True, allow_null=True
    )


class PersonOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()


class HistoryOutput(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    at = serializers.DateTimeField()
    note_to_reporter = serializers.CharField(allow_null=True)


class ReplyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    from_reporter = serializers.BooleanField()
    mine = serializers.BooleanField()
    body = serializers.CharField()
    at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        viewer = self.context["viewer"]
        return {
            "id": instance.pk,
            "from_reporter": instance.from_reporter,
            "mine": instance.author_id == viewer.pk,
            "body": instance.body,
            "at": stamp(instance.at),
        }


def _person(membership: Any) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {"member_id": membership.pk, "display_name": membership.display_name}


class WarningOutput(serializers.Serializer):
    category = serializers.CharField()
    note = serializers.CharField(allow_null=True)


class ReferredMessageOutput(serializers.Serializer):
    """A message the concern refers to, as its handlers read it (held text included)."""

    message_id = serializers.IntegerField()
    sent_at = serializers.DateTimeField()
    author = PersonOutput(allow_null=True)
    body = serializers.CharField(allow_null=True, help_text="null once retention removed it.")
    content_warning = WarningOutput(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "message_id": instance.message_id,
            "sent_at": stamp(instance.sent_at),
            "author": _person(instance.author),
            "body": instance.body,
            "content_warning": instance.content_warning,
        }


class OwnerOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    display_name = serializers.CharField(
        help_text="Her name in the concern's group, or her username when she is not in it."
    )


class NoteInput(serializers.Serializer):
    body = serializers.CharField(max_length=STAFF_NOTE_MAX)


class NoteOutput(serializers.Serializer):
    """A staff-only note on a concern (never shown to the woman who raised it)."""

    id = serializers.IntegerField()
    mine = serializers.BooleanField()
    body = serializers.CharField()
    at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "mine": instance.author_id == self.context["viewer"].pk,
            "body": instance.body,
            "at": stamp(instance.at),
        }


class ConcernSummaryOutput(serializers.Serializer):
    """A concern in a list: never its text."""

    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    group_name = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    status = serializers.ChoiceField(choices=ConcernStatus.choices)
    created_at = serializers.DateTimeField()
    acknowledge_by = serializers.DateTimeField()
    overdue = serializers.BooleanField()
    raised_by_me = serializers.BooleanField()
    owner_id = serializers.IntegerField(
        allow_null=True, help_text="The member of staff who took it; null: nobody yet (or hers)."
    )
    new_answer = serializers.BooleanField(
        help_text="Hers only: a staff reply or a status change since she last opened it."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        viewer = self.context["viewer"]
        mine = is_reporter(viewer, instance)
        return {
            "id": instance.pk,
            "group_id": instance.group_id,
            "group_name": instance.group.name,
            "category": instance.category,
            "urgency": instance.urgency,
            "status": instance.status,
            "created_at": stamp(instance.created_at),
            "acknowledge_by": stamp(instance.acknowledge_by),
            "overdue": is_overdue(instance),
            "raised_by_me": mine,
            # Who on the staff side took it is the staff's business, not hers.
            "owner_id": None if mine else instance.owner_id,
            "new_answer": mine and has_unread_answer(instance),
        }


class ConcernOutput(ConcernSummaryOutput):
    body = serializers.CharField()
    share_with_peer_mentors = serializers.BooleanField()
    my_role = serializers.ChoiceField(choices=[r.value for r in ConcernRole])
    reporter = PersonOutput(allow_null=True)
    about = PersonOutput(allow_null=True)
    message_ids = serializers.ListField(child=serializers.IntegerField())
    history = HistoryOutput(many=True)
    replies = ReplyOutput(many=True)
    messages = ReferredMessageOutput(
        many=True,
        required=False,
        help_text="Only for those who handle it (my_role handler or peer_handler).",
    )
    owner = OwnerOutput(
        allow_null=True, help_text="Who took it; null: nobody yet, or she raised it."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        role = self.context["role"]
        referred = concern_messages(concern=instance, role=role)
        if referred is not None:
            data["messages"] = ReferredMessageOutput(referred, many=True).data
        data.update(
            {
                "body": instance.body,
                "share_with_peer_mentors": instance.share_with_peer_mentors,
                "my_role": str(role),
                "reporter": _person(instance.reporter),
                "about": _person(instance.about),
                "message_ids": sorted(m.pk for m in instance.messages.all()),
                "owner": None
                if role == ConcernRole.REPORTER or instance.owner_id is None
                else {
                    "user_id": instance.owner_id,
                    "display_name": owner_names([instance]).get(instance.pk, ""),
                },
                "history": [
                    {
                        "from_status": h.from_status,
                        "to_status": h.to_status,
                        "at": stamp(h.at),
                        "note_to_reporter": h.note_to_reporter or None,
                    }
                    for h in instance.history.all()
                ],
                "replies": ReplyOutput(
                    instance.replies.all(), many=True, context=self.context
                ).data,
            }
        )
        return data


def _audit_column(name: str) -> int:
    """A filter on the audit log is no longer than the column it filters."""
    return AuditEntry._meta.get_field(name).max_length


class AuditQuery(serializers.Serializer):
    target_type = serializers.CharField(max_length=_audit_column("target_type"), required=False)
    target_id = serializers.CharField(max_length=_audit_column("target_id"), required=False)
    action = serializers.CharField(max_length=_audit_column("action"), required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class AuditOutput(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    group_id = serializers.IntegerField(allow_null=True)
    extra = serializers.DictField()


class EraseInput(serializers.Serializer):
    password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False)
    confirm = serializers.BooleanField()

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(_("Tick the box to confirm."))
        return value


class ExportOutput(serializers.Serializer):
    account = serializers.DictField()
    groups = serializers.ListField(child=serializers.DictField())
    messages = serializers.ListField(child=serializers.DictField())
    concerns = serializers.ListField(child=serializers.DictField())
    agreements_accepted = serializers.ListField(child=serializers.DictField())
    agreement_proposals = serializers.ListField(child=serializers.DictField())
