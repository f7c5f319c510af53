"""Retention: the texts Haven empties past each group's `retention_days`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from facilitation.models import (
    CheckIn,
    Debrief,
    HandoverNote,
    Message,
    PlanItem,
    PrivateMessage,
    PrivateNotice,
    Round,
    SessionEvent,
    SupportRequest,
)
from groups.models import Group, Invite, MemberDecision
from project.audit import audit_record
from safeguarding.models import (
    ConcernNote,
    ConcernStatus,
    Referral,
)

# The texts retention empties besides a message's own (model, path to the group, when it was
# written, the text): status notes and round prompts in the log, the rounds' prompts, the plan's
# notes (by the session's end), the reasons in her private notices, what she wrote asking for
# support, check-in notes and private messages; the staff notes on a concern, counted from
# when the concern was closed (an open one keeps them), and a closed referral's words. The rows
# stay, without their words.
RETAINED_TEXTS: tuple[tuple[type[models.Model], str, str, str], ...] = (
    (SessionEvent, "session__group", "created_at", "text"),
    (Round, "session__group", "started_at", "prompt"),
    (PlanItem, "session__group", "session__ends_at", "notes"),
    (PrivateNotice, "session__group", "created_at", "reason"),
    (SupportRequest, "group", "created_at", "note"),
    (CheckIn, "session__group", "created_at", "note"),
    (PrivateMessage, "thread__group", "created_at", "body"),
    (ConcernNote, "concern__group", "concern__closed_at", "body"),
    # Issue 16: debriefs and handover notes after a session; why a member was paused or
    # removed and what she was told (the record keeps that it happened); invite labels.
    (Debrief, "session__group", "created_at", "body"),
    (HandoverNote, "session__group", "created_at", "body"),
    (MemberDecision, "membership__group", "decided_at", "reason"),
    (MemberDecision, "membership__group", "decided_at", "message"),
    (Invite, "group", "created_at", "label"),
    # Issue 17: a referral's words once it is closed (she said no, or consent was withdrawn),
    # counted from then; an open or agreed one keeps them (the record keeps that it happened).
    (Referral, "group", "closed_at", "contact_route"),
    (Referral, "group", "closed_at", "need"),
)


def purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete message text past each group's retention, except what an open concern holds.

    Idempotent: a second run finds nothing more to do. The message rows stay (their place in
    the session log) with the text, warnings' notes and hide reasons gone; so do private
    notices, without their reasons, support requests and check-ins, without their notes, and
    private messages, without their bodies. `dry_run` counts the same rows and changes nothing
    (`manage.py purge_expired --dry-run`).
    """
    moment = now or timezone.now()
    purged = 0
    held = 0
    texts = 0
    for group in Group.objects.all().only("pk", "retention_days"):
        cutoff = moment - timedelta(days=group.retention_days)
        expired = Message.objects.filter(
            session__group=group, sent_at__lt=cutoff, purged_at__isnull=True
        )
        # Held while any concern that refers to it is still open (one closed concern does
        # not release a message another open concern needs).
        open_statuses = [v for v in ConcernStatus.values if v != ConcernStatus.CLOSED]
        holding = (
            expired.filter(concerns__status__in=open_statuses)
            .values_list("pk", flat=True)
            .distinct()
        )
        held_ids = set(holding)
        held += len(held_ids)
        # Every other text the group's sessions hold, past retention: one rule, one list.
        other_texts = [
            (
                model.objects.filter(**{group_path: group, f"{moment_field}__lt": cutoff}).exclude(
                    **{text_field: ""}
                ),
                text_field,
            )
            for model, group_path, moment_field, text_field in RETAINED_TEXTS
        ]
        if dry_run:
            purged += expired.exclude(pk__in=held_ids).count()
            texts += sum(rows.count() for rows, _field in other_texts)
            continue
        with transaction.atomic():
            purged += expired.exclude(pk__in=held_ids).update(
                body="", cw_note="", hide_reason="", purged_at=moment
            )
            # The room shows a held message exactly like a purged one (`held_at`); its text
            # stays for the concern's handlers until no open concern holds it.
            expired.filter(pk__in=held_ids, held_at__isnull=True).update(held_at=moment)
            for rows, text_field in other_texts:
                texts += rows.update(**{text_field: ""})
    if purged and not dry_run:
        audit_record(
            actor=None,
            action="retention.purged",
            target_type="message",
            target_id="*",
            extra={"messages": purged, "held": held},
        )
    return {"purged": purged, "held_by_open_concerns": held, "texts": texts}
