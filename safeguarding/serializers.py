"""Shapes of the concerns, audit and data-rights REST edge (PROTOCOL.md "Concerns")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from groups.services import PASSWORD_MAX
from project.exceptions import MAX_ID
from project.models import AuditEntry
from safeguarding.models import Category, ConcernStatus, NeedWords, ReferralStatus, Urgency
from safeguarding.policies import ConcernRole, is_reporter, pack_open
from safeguarding.selectors import (
    concern_messages,
    has_unread_answer,
    is_overdue,
    opening_times,
    owner_names,
)
from safeguarding.services import (
    BODY_MAX,
    CONTACT_MAX,
    MAX_MESSAGES,
    NEED_MAX,
    NOTE_MAX,
    STAFF_NOTE_MAX,
    pack_text,
)

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
    referrals = serializers.ListField(child=serializers.DictField())
    agreements_accepted = serializers.ListField(child=serializers.DictField())
    agreement_proposals = serializers.ListField(child=serializers.DictField())


# --- referrals with consent (issue 17) -------------------------------------------------------


class ReferralProposeInput(serializers.Serializer):
    member_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    service_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="An active service of the help directory."
    )
    share_contact = serializers.BooleanField(default=False)
    contact_route = serializers.CharField(
        max_length=CONTACT_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="How the service may contact her; may be left for her to write.",
    )
    share_need = serializers.BooleanField(default=False)
    need = serializers.CharField(
        max_length=NEED_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="What she would like help with, in the facilitator's words; left empty, "
        "she writes it in her own.",
    )


class ReferralEditInput(serializers.Serializer):
    """Her part: each field left out stays as it is. She may stop sharing a fact, not add one."""

    contact_route = serializers.CharField(max_length=CONTACT_MAX, required=False, allow_blank=True)
    need = serializers.CharField(max_length=NEED_MAX, required=False, allow_blank=True)
    share_contact = serializers.BooleanField(required=False)
    share_need = serializers.BooleanField(required=False)


class ReferralAcceptInput(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The version she read; another one is a 409."
    )


def _shared(referral: Any) -> dict[str, Any]:
    return {
        "share_contact": referral.share_contact,
        "contact_route": referral.contact_route if referral.share_contact else None,
        "share_need": referral.share_need,
        "need": referral.need if referral.share_need else None,
        "need_words": referral.need_words if referral.share_need else None,
    }


def _moments(referral: Any) -> dict[str, Any]:
    return {
        "proposed_at": stamp(referral.proposed_at),
        "consented_at": stamp(referral.consented_at),
        "declined_at": stamp(referral.declined_at),
        "withdrawn_at": stamp(referral.withdrawn_at),
    }


class ReferralOutput(serializers.Serializer):
    """A referral as the member it concerns reads it: exactly what would be shared."""

    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    service_name = serializers.CharField()
    organisation_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    version = serializers.IntegerField()
    share_contact = serializers.BooleanField()
    contact_route = serializers.CharField(allow_null=True)
    share_need = serializers.BooleanField()
    need = serializers.CharField(allow_null=True)
    need_words = serializers.ChoiceField(choices=NeedWords.choices, allow_null=True)
    proposed_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    consented_at = serializers.DateTimeField(allow_null=True)
    declined_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "group_id": instance.group_id,
            "service_name": instance.service_name,
            "organisation_name": instance.organization_name,
            "status": instance.status,
            "version": instance.version,
            **_shared(instance),
            "edited_at": stamp(instance.edited_at),
            **_moments(instance),
        }


class ReferralStaffOutput(serializers.Serializer):
    """A referral as staff follow it: its status and which facts, never the words."""

    id = serializers.IntegerField()
    member_id = serializers.IntegerField()
    service_name = serializers.CharField()
    organisation_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    share_contact = serializers.BooleanField()
    share_need = serializers.BooleanField()
    withdrawn_by_member = serializers.BooleanField()
    pack_open = serializers.BooleanField(help_text="She agreed and her consent stands.")
    pack_downloaded_at = serializers.DateTimeField(allow_null=True)
    proposed_at = serializers.DateTimeField()
    consented_at = serializers.DateTimeField(allow_null=True)
    declined_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "member_id": instance.membership_id,
            "service_name": instance.service_name,
            "organisation_name": instance.organization_name,
            "status": instance.status,
            "share_contact": instance.share_contact,
            "share_need": instance.share_need,
            "withdrawn_by_member": instance.withdrawn_by_member,
            "pack_open": pack_open(instance),
            "pack_downloaded_at": stamp(instance.pack_downloaded_at),
            **_moments(instance),
        }


class ReferralStatusOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReferralStatus.choices)


class ReferralPackOutput(serializers.Serializer):
    """The pack to pass on through the organisation's usual secure channel."""

    reference = serializers.CharField()
    from_organisation = serializers.CharField()
    service_name = serializers.CharField()
    organisation_name = serializers.CharField()
    consented_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    contact_route = serializers.CharField(allow_null=True)
    need = serializers.CharField(allow_null=True)
    need_words = serializers.ChoiceField(choices=NeedWords.choices)
    text = serializers.CharField(help_text="The same pack as plain text.")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "reference": instance.reference,
            "from_organisation": instance.from_organisation,
            "service_name": instance.service_name,
            "organisation_name": instance.organization_name,
            "consented_at": stamp(instance.consented_at),
            "version": instance.version,
            "contact_route": instance.contact_route,
            "need": instance.need,
            "need_words": instance.need_words,
            "text": pack_text(instance),
        }


# --- The "Get help now" directory (issue 17): public, read only -----------------------------


class HelpOrganizationOutput(serializers.Serializer):
    hsds_id = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()
    email = serializers.CharField()


class HelpPhoneOutput(serializers.Serializer):
    number = serializers.CharField()
    description = serializers.CharField()


class HelpScheduleOutput(serializers.Serializer):
    weekday = serializers.IntegerField(allow_null=True, help_text="ISO weekday, 1 is Monday")
    opens_at = serializers.TimeField(allow_null=True, format="%H:%M")
    closes_at = serializers.TimeField(allow_null=True, format="%H:%M")
    description = serializers.CharField()


class HelpLocationOutput(serializers.Serializer):
    location_type = serializers.CharField(help_text="physical, or virtual (online or phone only)")
    name = serializers.CharField()
    description = serializers.CharField()
    address = serializers.CharField()
    area = serializers.CharField()


class HelpServiceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    hsds_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    url = serializers.CharField()
    email = serializers.CharField()
    eligibility_description = serializers.CharField()
    application_process = serializers.CharField()
    fees_description = serializers.CharField()
    organization = HelpOrganizationOutput()
    phones = HelpPhoneOutput(many=True, source="phones.all")
    schedules = HelpScheduleOutput(many=True, source="schedules.all")
    locations = HelpLocationOutput(many=True, source="locations.all")
    opening_times = serializers.SerializerMethodField()

    def get_opening_times(self, service: Any) -> list[str]:
        return opening_times(list(service.schedules.all()))
