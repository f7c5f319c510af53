"""Shapes of the sessions REST edge (PROTOCOL.md "Sessions and plans")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers

from facilitation.log import REPLAY_LIMIT
from facilitation.models import PlanItemKind, SessionKind, SessionStatus
from facilitation.services import (
    PLAN_ITEM_MINUTES_MAX,
    PLAN_MAX_ITEMS,
    PLAN_NOTES_MAX,
    SESSION_TITLE_MAX,
    STATUS_NOTE_MAX,
)
from facilitation.taxonomy import CONTENT_WARNING_KEYS, CW_COLLAPSE, CW_SHOW
from project.exceptions import MAX_ID

CW_CHOICES = sorted(CONTENT_WARNING_KEYS)
# Longer lists than this are refused before the services look at them (there are 10
# categories; a session has a few co-hosts).
LIST_MAX = 20


class ContentWarningOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "key": instance.key,
            "label": gettext(instance.label),
            "description": gettext(instance.description),
        }


class ContentWarningPreferencesInput(serializers.Serializer):
    content_warnings = serializers.DictField(
        child=serializers.ChoiceField(choices=[CW_SHOW, CW_COLLAPSE])
    )


class MePatchInput(serializers.Serializer):
    preferences = ContentWarningPreferencesInput()


class SessionCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=SESSION_TITLE_MAX)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    content_warnings = serializers.ListField(
        child=serializers.ChoiceField(choices=CW_CHOICES), required=False, max_length=LIST_MAX
    )
    co_hosts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=LIST_MAX,
    )


class SessionUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=SESSION_TITLE_MAX, required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    kind = serializers.ChoiceField(choices=SessionKind.choices, required=False)
    content_warnings = serializers.ListField(
        child=serializers.ChoiceField(choices=CW_CHOICES), required=False, max_length=LIST_MAX
    )
    co_hosts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=LIST_MAX,
    )
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)
    note = serializers.CharField(max_length=STATUS_NOTE_MAX, required=False, allow_blank=True)


class SessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    content_warnings = serializers.ListField(child=serializers.CharField())
    co_hosts = serializers.ListField(child=serializers.IntegerField())
    last_seq = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        stamp = serializers.DateTimeField()
        return {
            "id": instance.pk,
            "group_id": instance.group_id,
            "title": instance.title,
            "status": instance.status,
            "starts_at": stamp.to_representation(instance.starts_at),
            "ends_at": stamp.to_representation(instance.ends_at),
            "kind": instance.kind,
            "content_warnings": list(instance.content_warnings),
            "co_hosts": sorted(m.pk for m in instance.co_hosts.all()),
            "last_seq": instance.last_seq,
        }


class PlanItemSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=SESSION_TITLE_MAX)
    kind = serializers.ChoiceField(choices=PlanItemKind.choices)
    minutes = serializers.IntegerField(min_value=1, max_value=PLAN_ITEM_MINUTES_MAX)
    notes = serializers.CharField(
        max_length=PLAN_NOTES_MAX, required=False, allow_blank=True, default=""
    )
    content_warnings = serializers.ListField(
        child=serializers.ChoiceField(choices=CW_CHOICES), required=False, default=list
    )


class PlanInput(serializers.Serializer):
    items = PlanItemSerializer(many=True, max_length=PLAN_MAX_ITEMS)


class PlanOutput(serializers.Serializer):
    session_id = serializers.IntegerField()
    items = PlanItemSerializer(many=True)


class AttendanceOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    joined_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        stamp = serializers.DateTimeField()
        return {
            "member_id": instance.membership_id,
            "display_name": instance.membership.display_name,
            "joined_at": stamp.to_representation(instance.joined_at),
            "left_at": stamp.to_representation(instance.left_at) if instance.left_at else None,
        }


class SessionEventsQuery(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=REPLAY_LIMIT, default=200)


class SessionEventPage(serializers.Serializer):
    """A page of the durable log; each result is an event exactly as the WebSocket sends it."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(child=serializers.DictField())
