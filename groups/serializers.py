"""Shapes of the groups REST edge (PROTOCOL.md "Authentication", "Groups, roster, invites")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from groups.models import GroupRole, Membership, MembershipStatus, OrgRole, ProposalStatus
from groups.services import (
    AGREEMENT_MAX_POINTS,
    AGREEMENT_POINT_MAX,
    DECISION_MESSAGE_MAX,
    DECISION_REASON_MAX,
    DECISIONS,
    DISPLAY_NAME_MAX,
    GROUP_DESCRIPTION_MAX,
    GROUP_NAME_MAX,
    INVITE_EXPIRY_DAYS,
    INVITE_LABEL_MAX,
    INVITE_MAX_USES,
    INVITE_ROLES,
    OTP_FIELD_MAX,
    PASSWORD_MAX,
    PAUSE_WEEKS_MAX,
    PAUSE_WEEKS_MIN,
    PROPOSAL_DECISIONS,
    PROPOSAL_NOTE_MAX,
    PROPOSAL_TEXT_MAX,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    USERNAME_FIELD_MAX,
)


class TokenCreateInput(serializers.Serializer):
    username = serializers.CharField(max_length=USERNAME_FIELD_MAX, trim_whitespace=True)
    password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False)
    # Staff only: the code from the authenticator app, or a recovery code.
    otp = serializers.CharField(
        max_length=OTP_FIELD_MAX, required=False, allow_blank=True, trim_whitespace=True
    )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    org_role = serializers.ChoiceField(choices=OrgRole.choices)
    preferences = serializers.DictField()


class GroupCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=GROUP_NAME_MAX)
    description = serializers.CharField(
        max_length=GROUP_DESCRIPTION_MAX, allow_blank=True, required=False, default=""
    )
    display_name = serializers.CharField(max_length=DISPLAY_NAME_MAX)


class GroupUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=GROUP_NAME_MAX, required=False)
    description = serializers.CharField(
        max_length=GROUP_DESCRIPTION_MAX, allow_blank=True, required=False
    )
    retention_days = serializers.IntegerField(
        min_value=RETENTION_DAYS_MIN, max_value=RETENTION_DAYS_MAX, required=False
    )


class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    retention_days = serializers.IntegerField()
    my_member_id = serializers.IntegerField(allow_null=True)
    my_role = serializers.ChoiceField(choices=GroupRole.choices, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        group, membership = instance
        return {
            "id": group.pk,
            "name": group.name,
            "description": group.description,
            "retention_days": group.retention_days,
            "my_member_id": membership.pk if membership else None,
            "my_role": membership.role if membership else None,
        }


class MemberOutput(serializers.Serializer):
    member_id = serializers.IntegerField(source="pk")
    display_name = serializers.CharField()
    role = serializers.ChoiceField(choices=GroupRole.choices)

    def to_representation(self, instance: Membership) -> dict[str, Any]:
        return {
            "member_id": instance.pk,
            "display_name": instance.display_name,
            "role": instance.role,
        }


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=GroupRole.choices)


class MemberDecisionInput(serializers.Serializer):
    """Pause her for `weeks` weeks, or remove her (issue 16); the reason is for staff only,
    the message is shown to her."""

    decision = serializers.ChoiceField(choices=list(DECISIONS))
    weeks = serializers.IntegerField(
        min_value=PAUSE_WEEKS_MIN, max_value=PAUSE_WEEKS_MAX, required=False
    )
    reason = serializers.CharField(max_length=DECISION_REASON_MAX, trim_whitespace=False)
    message = serializers.CharField(
        max_length=DECISION_MESSAGE_MAX, required=False, allow_blank=True, trim_whitespace=False
    )


class MemberStatusOutput(serializers.Serializer):
    """A member after a pause, a removal or her return: never the reason or the message."""

    member_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MembershipStatus.choices)
    paused_until = serializers.DateTimeField(allow_null=True)


class InviteCreateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=list(INVITE_ROLES), default=GroupRole.MEMBER)
    max_uses = serializers.IntegerField(min_value=1, max_value=INVITE_MAX_USES, required=False)
    expires_in_hours = serializers.IntegerField(
        min_value=1, max_value=settings.HAVEN_INVITE_MAX_HOURS, required=False
    )
    # Issue 16: the page's choices (1, 7 or 30 days); wins over expires_in_hours.
    expires_in_days = serializers.ChoiceField(choices=list(INVITE_EXPIRY_DAYS), required=False)
    # Staff-only words to tell invites apart; never shown to members.
    label = serializers.CharField(
        max_length=INVITE_LABEL_MAX, required=False, allow_blank=True, trim_whitespace=False
    )


class InviteCreatedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    role = serializers.ChoiceField(choices=GroupRole.choices)
    max_uses = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    label = serializers.CharField()


class InviteUseOutput(serializers.Serializer):
    """Who joined with an invite (her member id and pseudonym in the group) and when."""

    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    used_at = serializers.DateTimeField()


class InviteOutput(serializers.Serializer):
    """An invite as listed to hosts: the code itself is shown only once, at creation."""

    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=GroupRole.choices)
    max_uses = serializers.IntegerField()
    uses = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    revoked = serializers.BooleanField()
    usable = serializers.BooleanField()
    label = serializers.CharField()
    used_by = InviteUseOutput(many=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        field = serializers.DateTimeField()
        data = {
            "id": instance.pk,
            "role": instance.role,
            "max_uses": instance.max_uses,
            "uses": instance.uses,
            "expires_at": instance.expires_at,
            "created_at": instance.created_at,
            "revoked": instance.revoked_at is not None,
            "usable": instance.usable(),
            "label": instance.label,
            "used_by": [
                {
                    "member_id": use.membership_id,
                    "display_name": use.membership.display_name,
                    "used_at": field.to_representation(use.used_at),
                }
                for use in instance.used_by.all()
            ],
        }
        data["expires_at"] = field.to_representation(data["expires_at"])
        data["created_at"] = field.to_representation(data["created_at"])
        return data


class InviteRedeemInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=DISPLAY_NAME_MAX)
    username = serializers.CharField(max_length=USERNAME_FIELD_MAX, required=False)
    password = serializers.CharField(max_length=PASSWORD_MAX, required=False, trim_whitespace=False)


class InviteRedeemOutput(serializers.Serializer):
    group_id = serializers.IntegerField()
    member_id = serializers.IntegerField()
    token = serializers.CharField(required=False)


class AgreementOutput(serializers.Serializer):
    version = serializers.IntegerField()
    points = serializers.ListField(child=serializers.CharField())
    published_at = serializers.DateTimeField()
    accepted_by_me = serializers.BooleanField()


class AgreementPublishInput(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.CharField(max_length=AGREEMENT_POINT_MAX),
        min_length=1,
        max_length=AGREEMENT_MAX_POINTS,
    )


class AgreementAcceptInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class AcceptanceOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    display_name = serializers.CharField()
    accepted_version = serializers.IntegerField(allow_null=True)


class ProposalCreateInput(serializers.Serializer):
    text = serializers.CharField(max_length=PROPOSAL_TEXT_MAX)


class ProposalDecideInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(s) for s in PROPOSAL_DECISIONS])
    note = serializers.CharField(
        max_length=PROPOSAL_NOTE_MAX, required=False, allow_blank=True, default=""
    )


class ProposalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    status = serializers.ChoiceField(choices=ProposalStatus.choices)
    response_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    proposer = MemberOutput(allow_null=True)
    mine = serializers.BooleanField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        stamp = serializers.DateTimeField()
        viewer_member_id = self.context.get("member_id")
        proposer = instance.proposer
        return {
            "id": instance.pk,
            "text": instance.text,
            "status": instance.status,
            "response_note": instance.response_note,
            "created_at": stamp.to_representation(instance.created_at),
            "decided_at": stamp.to_representation(instance.decided_at)
            if instance.decided_at
            else None,
            "proposer": MemberOutput(proposer).data if proposer else None,
            "mine": proposer is not None and proposer.pk == viewer_member_id,
        }
