"""Shapes of the sessions REST edge (PROTOCOL.md "Sessions and plans")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers

from facilitation import events
from facilitation.log import REPLAY_LIMIT
from facilitation.models import (
    CW_KEY_MAX,
    CheckInMoment,
    Mood,
    PlanItemKind,
    SessionKind,
    SessionStatus,
    SupportKind,
)
from facilitation.services import (
    CHECKIN_NOTE_MAX,
    DEBRIEF_MAX,
    PLAN_ITEM_MINUTES_MAX,
    PLAN_MAX_ITEMS,
    PLAN_NOTES_MAX,
    PRIVATE_BODY_MAX,
    SESSION_TITLE_MAX,
    STATUS_NOTE_MAX,
    SUPPORT_NOTE_MAX,
)
from facilitation.services.support import ASKED_KINDS, HOST_STATUSES
from facilitation.taxonomy import CW_COLLAPSE, CW_SHOW, Category
from project.exceptions import MAX_ID

# A category key: which ones exist (and which are still offered) is the taxonomy's to say, in
# the services (`clean_warning_list`), as the admin may add and retire them.
CW_KEY = {"max_length": CW_KEY_MAX}
# Longer lists than this are refused before the services look at them (there are 10
# categories; a session has a few co-hosts).
LIST_MAX = 20


class ContentWarningOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    retired = serializers.BooleanField()

    def to_representation(self, instance: Category) -> dict[str, Any]:
        return {
            "key": instance.key,
            "label": instance.label,
            "description": instance.description,
            "retired": instance.retired,
        }


class PreferencesInput(serializers.Serializer):
    content_warnings = serializers.DictField(
        child=serializers.ChoiceField(choices=[CW_SHOW, CW_COLLAPSE]), required=False
    )
    tell_hosts_if_i_leave_quickly = serializers.BooleanField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data:
            raise serializers.ValidationError(
                {"content_warnings": [gettext("Give at least one preference to change.")]}
            )
        return data


class MePatchInput(serializers.Serializer):
    preferences = PreferencesInput()


class SessionCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=SESSION_TITLE_MAX)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    content_warnings = serializers.ListField(
        child=serializers.CharField(**CW_KEY), required=False, max_length=LIST_MAX
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
        child=serializers.CharField(**CW_KEY), required=False, max_length=LIST_MAX
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
        child=serializers.CharField(**CW_KEY), required=False, default=list
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


class SupportAskInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in ASKED_KINDS])
    note = serializers.CharField(
        max_length=SUPPORT_NOTE_MAX, required=False, allow_blank=True, allow_null=True
    )
    client_id = serializers.UUIDField()


class SupportStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in HOST_STATUSES])


class SupportHostOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    role = serializers.CharField()


class SupportRequestOutput(serializers.Serializer):
    """A support request as its reader sees it (the member herself, or a facilitator)."""

    request_id = serializers.IntegerField()
    client_id = serializers.UUIDField()
    group_id = serializers.IntegerField()
    session_id = serializers.IntegerField(allow_null=True)
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=SupportKind.choices)
    note = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    hosts_told = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["sent", "seen", "taken", "closed"])
    by = SupportHostOutput(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        hosts = events.support_requested(instance)
        return {
            **events.without_type(events.support_sent(instance)),
            "group_id": instance.group_id,
            "session_id": instance.session_id,
            "member_id": hosts["member_id"],
            "display_name": hosts["display_name"],
            "note": hosts["note"],
        }


class CheckInInput(serializers.Serializer):
    """A check-out from outside the room (the room's `checkin.set` takes `in` too)."""

    moment = serializers.ChoiceField(choices=CheckInMoment.choices)
    mood = serializers.ChoiceField(choices=Mood.choices)
    note = serializers.CharField(
        max_length=CHECKIN_NOTE_MAX, required=False, allow_blank=True, allow_null=True
    )
    share_note_with_peer_mentors = serializers.BooleanField(required=False)


class CheckInSkipInput(serializers.Serializer):
    """Skip for the check-out from outside the room (the room's `checkin.skip` takes `in` too)."""

    moment = serializers.ChoiceField(choices=CheckInMoment.choices)


class CheckInOutput(serializers.Serializer):
    """A check-in as a facilitator reads it (every note)."""

    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    moment = serializers.ChoiceField(choices=CheckInMoment.choices)
    mood = serializers.ChoiceField(choices=Mood.choices)
    note = serializers.CharField(allow_null=True)
    share_note_with_peer_mentors = serializers.BooleanField()
    at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        event = events.without_type(events.checkin(instance, with_note=True))
        return {**event, "share_note_with_peer_mentors": instance.share_note_with_peer_mentors}


class MyCheckInOutput(serializers.Serializer):
    """One of her own check-ins (her history)."""

    session_id = serializers.IntegerField()
    session_title = serializers.CharField()
    group_id = serializers.IntegerField()
    moment = serializers.ChoiceField(choices=CheckInMoment.choices)
    mood = serializers.ChoiceField(choices=Mood.choices)
    note = serializers.CharField(allow_null=True)
    share_note_with_peer_mentors = serializers.BooleanField()
    at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        saved = events.without_type(events.checkin_saved(instance))
        return {
            "session_id": instance.session_id,
            "session_title": instance.session.title,
            "group_id": instance.session.group_id,
            **saved,
        }


class PrivateThreadOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "member_id": instance.membership_id,
            "display_name": instance.membership.display_name,
            "created_at": events.stamp(instance.created_at),
            "last_message_at": events.stamp(instance.last_message_at),
        }


class PrivateMessageInput(serializers.Serializer):
    client_id = serializers.UUIDField()
    body = serializers.CharField(max_length=PRIVATE_BODY_MAX)


class PrivateMessageOutput(serializers.Serializer):
    """A private message, exactly as the room's `private.message` (without `type`)."""

    thread_member_id = serializers.IntegerField()
    message_id = serializers.IntegerField()
    author = SupportHostOutput(allow_null=True)
    body = serializers.CharField(allow_null=True)
    sent_at = serializers.DateTimeField()
    client_id = serializers.UUIDField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        event = events.private_message(instance, thread_member_id=instance.thread.membership_id)
        return events.without_type(event)


class DebriefInput(serializers.Serializer):
    """A host's private debrief note after the session (issue 16)."""

    body = serializers.CharField(max_length=DEBRIEF_MAX, allow_blank=True)


class DebriefOutput(serializers.Serializer):
    """A debrief note, for those who read them (the group's facilitators, the leads)."""

    debrief_id = serializers.IntegerField(source="pk")
    member_id = serializers.IntegerField(source="author_id", allow_null=True)
    display_name = serializers.SerializerMethodField()
    body = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")

    def get_display_name(self, instance: Any) -> str | None:
        return instance.author.display_name if instance.author is not None else None
