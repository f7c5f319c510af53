"""Models every app shares: the audit log, when the scheduled jobs last ran, and the
organisation's words on the front door."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from project.config import ORGANISATION_TEXT_MAX, one_line


class AuditEntry(models.Model):
    """Who did what to which thing, and when. Never the text itself.

    `extra` holds only identifiers, roles, statuses and counts; `audit.audit_record` refuses
    keys that could carry text.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    group_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"


class MaintenanceRun(models.Model):
    """When a scheduled job (`purge_expired`) last finished successfully: `/readyz` fails once
    it is too long ago, so a timer that stopped is noticed (project/health.py). A dry run is
    never recorded."""

    name = models.CharField(max_length=64, unique=True)
    finished_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.finished_at:%Y-%m-%d %H:%M:%S}"


def validate_one_line(value: str) -> None:
    if not one_line(value):
        raise ValidationError(_("Use one line of plain text, with no line breaks."))


class Organisation(models.Model):
    """The organisation's name and contact line, as an admin sets them (issue 17: "environment
    or admin"). One row at most; a blank field keeps the environment's
    (HAVEN_ORGANISATION_NAME / HAVEN_ORGANISATION_CONTACT). Read through
    `project.organisation.organisation_words`, never directly."""

    SINGLE = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLE, editable=False)
    name = models.CharField(
        _("organisation name"),
        max_length=ORGANISATION_TEXT_MAX["HAVEN_ORGANISATION_NAME"],
        blank=True,
        validators=[validate_one_line],
        help_text=_(
            'Shown on the front page ("Peer support groups run by …") and on About. '
            "Leave blank to use the server's setting."
        ),
    )
    contact = models.CharField(
        _("contact line"),
        max_length=ORGANISATION_TEXT_MAX["HAVEN_ORGANISATION_CONTACT"],
        blank=True,
        validators=[validate_one_line],
        help_text=_(
            "For example a phone number and when it is answered. Shown on the front page and "
            "on About. Leave blank to use the server's setting."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisation")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="organisation_one_row")
        ]

    def __str__(self) -> str:
        return "organisation"
