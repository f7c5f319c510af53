"""Pseudonymous accounts, groups, memberships, invites and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from project.crypto import EncryptedJSONField, EncryptedTextField


class OrgRole(models.TextChoices):
    NONE = "none", _("None")
    FACILITATOR = "facilitator", _("Facilitator")
    SAFEGUARDING_LEAD = "safeguarding_lead", _("Safeguarding lead")
    ADMIN = "admin", _("Admin")


class GroupRole(models.TextChoices):
    FACILITATOR = "facilitator", _("Facilitator")
    PEER_MENTOR = "peer_mentor", _("Peer mentor")
    MEMBER = "member", _("Member")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")
    REMOVED = "removed", _("Removed")
    # Kept out until `Membership.paused_until`; then active again (groups.policies
    # `active_membership` lifts it).
    PAUSED = "paused", _("Paused")


class User(AbstractUser):
    """An account. Only a username and a password: no real name, e-mail or phone.

    The inherited name and e-mail columns stay empty; nothing in Haven asks for them.
    """

    org_role = models.CharField(max_length=32, choices=OrgRole.choices, default=OrgRole.NONE)
    preferences = models.JSONField(default=dict, blank=True)
    # Issue 17: when she first opened "What to expect" signed in (her first-run checklist).
    read_what_to_expect_at = models.DateTimeField(null=True, blank=True)
    # Issue 18: the language she chose (a code of settings.LANGUAGES); blank: not chosen, so her
    # browser's Accept-Language decides (project/languages.py).
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"user {self.pk}"


class Group(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    retention_days = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"group {self.pk}"


class Membership(models.Model):
    """One account's identity inside one group. Its id is the `member_id` peers see."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    display_name = models.CharField(max_length=40)
    # Case- and width-folded form: "Rose" and "ROSE" cannot both exist in one group.
    display_name_key = models.CharField(max_length=160)
    role = models.CharField(max_length=16, choices=GroupRole.choices, default=GroupRole.MEMBER)
    status = models.CharField(
        max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    joined_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # While status is paused: the moment she may come back (issue 16).
    paused_until = models.DateTimeField(null=True, blank=True)
    # Issue 17: she is taking a break; the group is folded away in My groups, she is still in it.
    on_break = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="one_membership_per_group"),
            models.UniqueConstraint(
                fields=["group", "display_name_key"], name="display_name_unique_in_group"
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status == MembershipStatus.ACTIVE


class Invite(models.Model):
    """A code that lets a woman join a group. Only a hash of the code is kept."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="invites")
    code_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=GroupRole.choices, default=GroupRole.MEMBER)
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Staff-only words to tell invites apart ("Drop-in, Tuesday"); never shown to members.
    label = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite {self.pk}"

    def usable(self, *, now: object | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and self.uses < self.max_uses and self.expires_at > moment


def token_live_after(now: datetime) -> tuple[datetime, datetime]:
    """A token still signs in at `now` when it was issued after the first of these and used
    after the second: issued within HAVEN_TOKEN_MAX_DAYS, used within HAVEN_TOKEN_IDLE_HOURS.
    The one spelling of expiry, for `ApiTokenQuerySet.live` and the plain-SQL token check of
    `groups.services.token_authenticate`."""
    return (
        now - timedelta(days=settings.HAVEN_TOKEN_MAX_DAYS),
        now - timedelta(hours=settings.HAVEN_TOKEN_IDLE_HOURS),
    )


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self, *, now: datetime | None = None) -> ApiTokenQuerySet:
        """Tokens that still sign in (`token_live_after`), for REST's housekeeping, the
        socket's heartbeat and the purge."""
        issued_after, used_after = token_live_after(now or timezone.now())
        return self.filter(created_at__gt=issued_after, last_used_at__gt=used_after)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored, so a database copy grants nothing."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Moved on when it is used (at most once a minute): the idle expiry counts from here.
    last_used_at = models.DateTimeField(default=timezone.now)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"token {self.pk}"


class Agreement(models.Model):
    """One published version of a group's boundary agreement. Versions are never edited."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="agreements")
    version = models.PositiveIntegerField()
    # Encrypted at rest like every other text a person writes (ARCHITECTURE.md rule 6).
    points = EncryptedJSONField(default=list)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["group_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["group", "version"], name="agreement_version_unique")
        ]

    def __str__(self) -> str:
        return f"agreement {self.group_id}v{self.version}"


class AgreementAcceptance(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="acceptances")
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "agreement"], name="accept_each_version_once"
            )
        ]

    def __str__(self) -> str:
        return f"acceptance {self.pk}"


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ADOPTED = "adopted", _("Adopted")
    DECLINED = "declined", _("Declined")


class AgreementProposal(models.Model):
    """A member's suggestion for the next version of the agreement."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="proposals")
    proposer = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    text = EncryptedTextField(max_length=1000)
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    response_note = EncryptedTextField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"proposal {self.pk}"


class InviteUse(models.Model):
    """Who joined with an invite, and when: the membership it made (issue 16)."""

    invite = models.ForeignKey(Invite, on_delete=models.CASCADE, related_name="used_by")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-used_at", "-id"]

    def __str__(self) -> str:
        return f"invite use {self.pk}"


class MemberDecisionKind(models.TextChoices):
    PAUSED = "paused", _("Paused")
    REMOVED = "removed", _("Removed")
    REINSTATED = "reinstated", _("Reinstated")


class MemberDecision(models.Model):
    """A facilitator's pause, removal or reinstatement of one member, with the staff-only
    reason and the message she is shown; both encrypted at rest (issue 16)."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=16, choices=MemberDecisionKind.choices)
    reason = EncryptedTextField(blank=True, default="")
    message = EncryptedTextField(blank=True, default="")
    until = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"member decision {self.pk}"


class ResetCode(models.Model):
    """A one-time code an admin gives a member who forgot her password (issue 16): with it and
    her username she chooses a new one. Only its SHA-256 is stored; it works once, for a day,
    and a newer code replaces it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reset_codes"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reset code {self.pk}"
