"""Models every app shares: the audit log, and when the scheduled jobs last ran."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
