"""Concerns raised by members, their private threads and status history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
    LOW = "low", pgettext_lazy("urgency", "Low")
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


# --- The "Get help now" directory (issue 17) ---------------------------------------------
# Services the organisation trusts, shaped like the Open Referral Human Services Data
# Specification (HSDS: organization, service, location, phone, schedule), so a directory can be
# imported from, and compared with, the files other services already publish. Haven is one
# organisation per install (groups/models.py has no organisation row), so the directory is
# install-wide. Nothing here is about a member: these are public contact details of services.


def new_hsds_id() -> str:
    """An identifier for an entry made in the admin rather than imported (HSDS ids are UUIDs)."""
    return str(uuid.uuid4())


class HelpCategory(models.TextChoices):
    """Haven's own grouping on the help page, in the order the page shows them."""

    CRISIS_LINE = "crisis_line", _("Crisis lines")
    SEXUAL_VIOLENCE = "sexual_violence", _("Sexual violence")
    DOMESTIC_ABUSE = "domestic_abuse", _("Domestic abuse")
    SAFETY = "safety", _("Staying safe at work")
    HEALTH = "health", _("Health")
    LEGAL = "legal", _("Legal help")
    OTHER = "other", _("Other help")


HELP_CATEGORY_ORDER: tuple[str, ...] = tuple(HelpCategory.values)


class HelpServiceStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("help service", "Active")
    INACTIVE = "inactive", pgettext_lazy("help service", "Inactive")


class HelpLocationType(models.TextChoices):
    PHYSICAL = "physical", _("A place to visit")
    VIRTUAL = "virtual", _("Online or phone only")


class HelpOrganization(models.Model):
    """An organisation that runs one or more help services (HSDS `organization`)."""

    hsds_id = models.CharField(max_length=100, unique=True, default=new_hsds_id)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    # An organisation's public contact address; never a person's.
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class HelpService(models.Model):
    """One service an organisation offers (HSDS `service`): what it offers and who it is for."""

    hsds_id = models.CharField(max_length=100, unique=True, default=new_hsds_id)
    organization = models.ForeignKey(
        HelpOrganization, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=200)
    # What it offers.
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    email = models.EmailField(blank=True)
    status = models.CharField(
        max_length=16, choices=HelpServiceStatus.choices, default=HelpServiceStatus.ACTIVE
    )
    # Who it is for (HSDS 3 `eligibility_description`) and how to reach it (`application_process`).
    eligibility_description = models.TextField(blank=True)
    application_process = models.TextField(blank=True)
    fees_description = models.TextField(blank=True)
    # Haven's own: where it sits on the help page (not in HSDS, which uses taxonomies).
    category = models.CharField(
        max_length=32, choices=HelpCategory.choices, default=HelpCategory.OTHER
    )
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name", "id"]
        indexes = [models.Index(fields=["status", "category"], name="help_service_listing")]

    def __str__(self) -> str:
        return self.name


class HelpLocation(models.Model):
    """Where a service is (HSDS `location`); "online or phone only" needs no address."""

    hsds_id = models.CharField(max_length=100, unique=True, default=new_hsds_id)
    service = models.ForeignKey(HelpService, on_delete=models.CASCADE, related_name="locations")
    location_type = models.CharField(
        max_length=16, choices=HelpLocationType.choices, default=HelpLocationType.VIRTUAL
    )
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    address = models.TextField(blank=True)
    # A town or region it covers, e.g. "Greater Manchester" or "UK-wide".
    area = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.area or f"location {self.pk}"


class HelpPhone(models.Model):
    """A number to call or text for a service (HSDS `phone`)."""

    hsds_id = models.CharField(max_length=100, unique=True, default=new_hsds_id)
    service = models.ForeignKey(HelpService, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=50)
    # e.g. "Free, 24 hours" or "Text only".
    description = models.CharField(max_length=300, blank=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.number


class HelpSchedule(models.Model):
    """When a service is open (HSDS `schedule` / 2.x `regular_schedule`).

    Either one weekday with opening and closing times, or a description alone ("24 hours,
    every day"). An HSDS row naming several days (`byday=MO,TU`) becomes one row per day, so
    `hsds_id` is unique together with the weekday.
    """

    hsds_id = models.CharField(max_length=100, default=new_hsds_id)
    service = models.ForeignKey(HelpService, on_delete=models.CASCADE, related_name="schedules")
    # ISO weekday: 1 is Monday, 7 is Sunday; empty for a description-only row.
    weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[
            (1, _("Monday")),
            (2, _("Tuesday")),
            (3, _("Wednesday")),
            (4, _("Thursday")),
            (5, _("Friday")),
            (6, _("Saturday")),
            (7, _("Sunday")),
        ],
    )
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["weekday", "opens_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["hsds_id", "weekday"],
                name="help_schedule_hsds_id_weekday",
            )
        ]

    def __str__(self) -> str:
        return self.description or f"schedule {self.pk}"


# --- Referral with consent (issue 17) ----------------------------------------------------------


class ReferralStatus(models.TextChoices):
    PROPOSED = "proposed", _("Waiting for her answer")
    ACCEPTED = "accepted", _("She agreed")
    DECLINED = "declined", _("She said no")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class NeedWords(models.TextChoices):
    """Whose words say what she would like help with."""

    HERS = "hers", _("In her own words")
    FACILITATOR = "facilitator", _("In the facilitator's words")


class Referral(models.Model):
    """A facilitator's proposal to pass a member on to a service of the help directory, and
    her answer. Nothing leaves Haven unless she agrees: the pack (the facts she chose to share,
    exactly as she saw them) exists only while her consent stands. Its texts are encrypted.

    The service is kept by name as well as by link: an edit of the directory (or a service
    removed from it) must not change what she agreed to. Erasing her account deletes her
    referrals (README "Data protection"); past retention a closed one keeps no text.
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="referrals")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="referrals")
    service = models.ForeignKey(
        HelpService,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    service_name = models.CharField(max_length=200)
    organization_name = models.CharField(max_length=200, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.PROPOSED
    )
    # The facts that would be shared: each one only when chosen.
    share_contact = models.BooleanField(default=False)
    contact_route = EncryptedTextField(blank=True, default="")
    share_need = models.BooleanField(default=False)
    need = EncryptedTextField(blank=True, default="")
    need_words = models.CharField(
        max_length=16, choices=NeedWords.choices, default=NeedWords.FACILITATOR
    )
    # Goes up with every change of the shared facts; she agrees to one version, the one she read.
    version = models.PositiveIntegerField(default=1)
    proposed_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by_member = models.BooleanField(default=False)
    # Declined or withdrawn: retention counts from here.
    closed_at = models.DateTimeField(null=True, blank=True)
    pack_downloaded_at = models.DateTimeField(null=True, blank=True)
    pack_downloaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["membership", "status"], name="referral_member_status")]

    def __str__(self) -> str:
        return f"referral {self.pk}"
