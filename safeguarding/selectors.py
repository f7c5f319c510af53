"""Reads for concerns and the audit log; every selector is given the viewer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from groups.models import GroupRole, Membership, MembershipStatus, OrgRole, User
from groups.policies import Action, ConcernRole, is_signed_in, require
from project.models import AuditEntry
from safeguarding import services
from safeguarding.models import Category, Concern, ConcernStatus


def concern_list(*, viewer: User, overdue: bool = False) -> QuerySet[Concern]:
    """The concerns the viewer may see: those she raised and those she handles.

    With `overdue`, only the ones still waiting for acknowledgement past their time.
    """
    if not is_signed_in(viewer):
        return Concern.objects.none()
    memberships = Membership.objects.filter(user=viewer, status=MembershipStatus.ACTIVE)
    mine = list(memberships.values_list("pk", flat=True))
    # Concerns she raised stay hers after she leaves a group.
    raised_by = list(Membership.objects.filter(user=viewer).values_list("pk", flat=True))
    facilitating = list(
        memberships.filter(role=GroupRole.FACILITATOR).values_list("group_id", flat=True)
    )
    mentoring = list(
        memberships.filter(role=GroupRole.PEER_MENTOR).values_list("group_id", flat=True)
    )
    visible = Q(reporter_id__in=raised_by)
    visible |= Q(group_id__in=facilitating) & ~Q(category=Category.FACILITATION)
    visible |= (
        Q(group_id__in=mentoring)
        & Q(share_with_peer_mentors=True)
        & ~Q(category=Category.FACILITATION)
    )
    if viewer.org_role == OrgRole.SAFEGUARDING_LEAD:
        visible |= Q(escalated_at__isnull=False) | Q(leads_from_start=True)
    concerns = (
        Concern.objects.filter(visible)
        .exclude(about_id__in=mine)
        .select_related("reporter", "about")
    )
    if overdue:
        concerns = concerns.filter(
            status=ConcernStatus.RECEIVED, acknowledge_by__lt=timezone.now()
        ).exclude(reporter_id__in=mine)
        return concerns.order_by("acknowledge_by", "id")
    return concerns


def concern_detail(*, viewer: User, concern_id: Any) -> tuple[Concern, ConcernRole]:
    """One concern for someone who may see it (404 for anyone else); handler reads are audited."""
    concern, role = services.concern_for(viewer, concern_id)
    services.concern_record_view(actor=viewer, concern=concern, role=role)
    return concern, role


def audit_list(
    *,
    viewer: User,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    require(viewer, Action.AUDIT_VIEW)
    entries = AuditEntry.objects.all()
    if target_type:
        entries = entries.filter(target_type=target_type)
    if target_id:
        entries = entries.filter(target_id=target_id)
    if action:
        entries = entries.filter(action=action)
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lt=until)
    return entries
