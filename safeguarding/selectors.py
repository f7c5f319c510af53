"""Reads for concerns and the audit log; every selector is given the viewer.

Who may see which concern is decided in `safeguarding.policies`; these selectors shape what
she may see into lists and pages (overdue first, hers apart from those she handles).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from groups.models import Membership, User
from groups.policies import Action, require
from project.audit import audit_record
from project.models import AuditEntry
from safeguarding.models import Concern, ConcernStatus
from safeguarding.policies import (
    READS_MESSAGES,
    ConcernRole,
    concern_entries_visible_to,
    concern_for,
    concerns_visible_to,
    is_reporter,
)


def overdue_q(now: datetime) -> Q:
    """Concerns still waiting for acknowledgement past their time (see `is_overdue`)."""
    return Q(status=ConcernStatus.RECEIVED, acknowledge_by__lt=now)


def is_overdue(concern: Concern, now: datetime | None = None) -> bool:
    """Is `concern` still waiting for acknowledgement past its time? (`overdue_q` in Python.)"""
    moment = now or timezone.now()
    return concern.status == ConcernStatus.RECEIVED and concern.acknowledge_by < moment


def concern_list(*, viewer: User, overdue: bool = False) -> QuerySet[Concern]:
    """The concerns the viewer may see: those she raised and those she handles.

    With `overdue`, only the ones she handles that are still waiting for acknowledgement past
    their time, the most pressing first.
    """
    concerns = concerns_visible_to(viewer).select_related("reporter", "about")
    if overdue:
        concerns = concerns.filter(overdue_q(timezone.now())).exclude(reporter__user_id=viewer.pk)
        return concerns.order_by("acknowledge_by", "id")
    return concerns


@dataclass(frozen=True)
class ConcernInbox:
    """The concerns page: those she raised, and those she handles in the order to answer them."""

    mine: list[Concern]
    inbox: list[Concern]
    now: datetime


def concern_inbox(*, viewer: User) -> ConcernInbox:
    """Her own concerns apart from those to answer: overdue first, closed last, then by the
    time they should be acknowledged by."""
    now = timezone.now()
    mine: list[Concern] = []
    inbox: list[Concern] = []
    for concern in concern_list(viewer=viewer):
        (mine if is_reporter(viewer, concern) else inbox).append(concern)
    inbox.sort(
        key=lambda c: (
            not is_overdue(c, now),
            c.status == ConcernStatus.CLOSED,
            c.acknowledge_by,
        )
    )
    return ConcernInbox(mine=mine, inbox=inbox, now=now)


def concern_detail(*, viewer: User, concern_id: Any) -> tuple[Concern, ConcernRole]:
    """One concern for someone who may see it (404 for anyone else).

    Every read by someone handling it is audited (who, which, when); her own reads are not.
    """
    concern, role = concern_for(actor=viewer, concern_id=concern_id)
    if role != ConcernRole.REPORTER:
        with transaction.atomic():
            audit_record(
                actor=viewer,
                action="concern.viewed",
                target=concern,
                group_id=concern.group_id,
                extra={"role": str(role)},
            )
    return concern, role


@dataclass(frozen=True)
class ReferredMessage:
    """A message a concern refers to, as those who handle the concern read it."""

    message_id: int
    sent_at: datetime
    author: Membership | None  # None once she erased her account
    body: str | None  # None once retention or an erasure removed the text for good
    content_warning: dict[str, Any] | None
    held: bool  # kept past retention (or an erasure) for an open concern; the room shows it deleted


def concern_messages(*, concern: Concern, role: ConcernRole) -> list[ReferredMessage] | None:
    """The messages `concern` refers to, oldest first, for those who handle it (None for anyone
    else): with their text where the concern holds it past retention or an erasure, while the
    room shows them as deleted."""
    if role not in READS_MESSAGES:
        return None
    rows = concern.messages.select_related("author").order_by("sent_at", "id")
    return [
        ReferredMessage(
            message_id=row.pk,
            sent_at=row.sent_at,
            author=row.author,
            body=None if row.purged_at else row.body,
            content_warning=row.content_warning,
            held=row.held_at is not None and row.purged_at is None,
        )
        for row in rows
    ]


def audit_list(
    *,
    viewer: User,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """The audit log, filtered, for the leads and admins who may read it; entries about a
    concern only for those who may see that concern."""
    require(viewer, Action.AUDIT_VIEW)
    entries = AuditEntry.objects.filter(concern_entries_visible_to(viewer))
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
