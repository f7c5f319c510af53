"""Concerns raised by members, their private threads and status history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from facilitation.models import Message
from groups.models import Group, Membership
from project.crypto import EncryptedTextField


class Category(models.TextChoices):
    ABOUT_MEMBER = "about_member", _("About another member")
    UPSETTING_CONTENT = "upsetting_content", _("Upsetting content")
    MY_WELLBEING = "my_wellbeing", _("My wellbeing")
    SAFETY_OUTSIDE_GROUP = "safety_outside_group", _("My safety outside the group")
    FACILITATION = "facilitation", _("How the group is run")
    OTHER = "other", _("Something else")


class Urgency(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class ConcernStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTION_TAKEN = "action_taken", _("Action taken")
    ESCALATED = "escalated", _("Escalated")
    CLOSED = "closed", _("Closed")


class Concern(models.Model):
    """A concern a member raised privately. Its text is encrypted at rest.

    `reporter` becomes null when she erases her account: the record is kept, anonymised.
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="concerns")
    reporter = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="concerns_raised"
    )
    about = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.CharField(max_length=32, choices=Category.choices)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    body = EncryptedTextField()
    share_with_peer_mentors = models.BooleanField(default=False)
    # Concerns about a host, or about how the group is run, go to the leads from the start.
    leads_from_start = models.BooleanField(default=False)
    messages = models.ManyToManyField(Message, blank=True, related_name="concerns")
    status = models.CharField(
        max_length=16, choices=ConcernStatus.choices, default=ConcernStatus.RECEIVED
    )
    created_at = models.DateTimeField(default=timezone.now)
    acknowledge_by = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The member of staff who said "I will take it" (issue 16); nobody yet while null.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Issue 17: when she was last answered (a staff reply or a status change; never a staff
    # note, never her own words) and when she last opened it herself. An answer after her last
    # look is an unread answer: a dot on "Concerns", nothing more.
    answered_at = models.DateTimeField(null=True, blank=True)
    reporter_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "acknowledge_by"]),
            # Her unread answers, for the navigation on every page she loads.
            models.Index(
                fields=["reporter"],
                name="concern_unread_answer",
                condition=models.Q(answered_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"concern {self.pk}"


class ConcernStatusChange(models.Model):
    concern = models.ForeignKey(Concern, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=ConcernStatus.choices)
    to_status = models.CharField(max_length=16, choices=ConcernStatus.choices)
    note_to_reporter = EncryptedTextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Escalated by Haven itself when nobody acknowledged it in time (`concerns_escalate_overdue`),
    # not by a person: her timeline then says someone more senior is looking.
    automatic = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"concern change {self.pk}"


class ConcernReply(models.Model):
    """One message in the private thread between the reporter and the handlers."""

    concern = models.ForeignKey(Concern, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_reporter = models.BooleanField(default=False)
    body = EncryptedTextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"concern reply {self.pk}"


class ConcernNote(models.Model):
    """A note between the people handling a concern. The woman who raised it never sees it."""

    concern = models.ForeignKey(Concern, on_delete=models.CASCADE, related_name="staff_notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = EncryptedTextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"concern note {self.pk}"
