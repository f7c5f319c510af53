"""Reads for concerns and the audit log; every selector is given the viewer.

Who may see which concern is decided in `safeguarding.policies`; these selectors shape what
she may see into lists and pages (overdue first, hers apart from those she handles); and the
reads of referrals with consent (issue 17), whose rule is in `safeguarding.policies` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from groups.models import Membership, MembershipStatus, User
from groups.policies import Action, group_for, needs_second_factor, require
from project.audit import audit_record
from project.exceptions import NotFound
from project.models import AuditEntry
from safeguarding.models import (
    HELP_CATEGORY_ORDER,
    Concern,
    ConcernNote,
    ConcernStatus,
    HelpCategory,
    HelpSchedule,
    HelpService,
    HelpServiceStatus,
    Referral,
    ReferralStatus,
    Urgency,
)
from safeguarding.policies import (
    LEAD,
    NOTE_WRITERS,
    READS_MESSAGES,
    TAKERS,
    ConcernRole,
    ReferralRole,
    concern_entries_visible_to,
    concern_for,
    concern_roles,
    concerns_handled_by,
    concerns_visible_to,
    is_reporter,
    may_read_pack,
    referral_for,
    referrals_of_subject,
)

# Urgent first, then normal, then low: the order of the inbox, and of escalating overdue ones.
URGENCY_ORDER: tuple[str, ...] = (Urgency.URGENT, Urgency.NORMAL, Urgency.LOW)
URGENCY_RANK = Case(
    *(When(urgency=value, then=V(rank)) for rank, value in enumerate(URGENCY_ORDER)),
    default=V(len(URGENCY_ORDER)),
    output_field=IntegerField(),
)


def urgency_rank(urgency: str) -> int:
    """`URGENCY_RANK` for one concern, in Python (0: most urgent)."""
    return URGENCY_ORDER.index(urgency) if urgency in URGENCY_ORDER else len(URGENCY_ORDER)


def overdue_q(now: datetime) -> Q:
    """Concerns still waiting for acknowledgement past their time (see `is_overdue`)."""
    return Q(status=ConcernStatus.RECEIVED, acknowledge_by__lt=now)


def is_overdue(concern: Concern, now: datetime | None = None) -> bool:
    """Is `concern` still waiting for acknowledgement past its time? (`overdue_q` in Python.)"""
    moment = now or timezone.now()
    return concern.status == ConcernStatus.RECEIVED and concern.acknowledge_by < moment


def late_q(now: datetime) -> Q:
    """Concerns past their answer-by time that nobody has acknowledged yet, whether still
    received or already escalated to the leads (the banner staff see on every page)."""
    return Q(
        status__in=[ConcernStatus.RECEIVED, ConcernStatus.ESCALATED],
        acknowledged_at__isnull=True,
        acknowledge_by__lt=now,
    )


def is_late(concern: Concern, now: datetime | None = None) -> bool:
    """`late_q` for one concern, in Python."""
    moment = now or timezone.now()
    return (
        concern.status in (ConcernStatus.RECEIVED, ConcernStatus.ESCALATED)
        and concern.acknowledged_at is None
        and concern.acknowledge_by < moment
    )


@dataclass(frozen=True)
class ConcernTally:
    """Every concern counted by status, and those late (`late_q`): numbers only."""

    by_status: dict[str, int]
    late: int


def concern_tally(*, now: datetime | None = None) -> ConcernTally:
    """For the operator's `/metrics` (no viewer: the scrape is already authorised, and it
    learns no group, no person and no text), in one statement."""
    moment = now or timezone.now()
    counts = Concern.objects.aggregate(
        late=Count("pk", filter=late_q(moment)),
        **{f"s_{status}": Count("pk", filter=Q(status=status)) for status in ConcernStatus.values},
    )
    late = counts.pop("late")
    return ConcernTally({key[2:]: value for key, value in counts.items()}, late)


# The order of every list of concerns to answer: open before closed, urgent first, then by the
# time they should be acknowledged by.
CLOSED_LAST = Case(
    When(status=ConcernStatus.CLOSED, then=V(1)), default=V(0), output_field=IntegerField()
)


def concern_list(*, viewer: User, overdue: bool = False) -> QuerySet[Concern]:
    """The concerns the viewer may see: those she raised and those she handles, open before
    closed, urgent first, then by the time they should be acknowledged by.

    With `overdue`, only the ones she handles that are still waiting for acknowledgement past
    their time, the most pressing first.
    """
    concerns = concerns_visible_to(viewer).select_related("reporter", "about", "group", "owner")
    if overdue:
        concerns = concerns.filter(overdue_q(timezone.now())).exclude(reporter__user_id=viewer.pk)
        return concerns.order_by(URGENCY_RANK, "acknowledge_by", "id")
    return concerns.order_by(CLOSED_LAST, URGENCY_RANK, "acknowledge_by", "id")


def owner_names(concerns: list[Concern]) -> dict[int, str]:
    """What staff call the owner of each owned concern: her name in the concern's group, or
    her username when she is not in it (a safeguarding lead). One statement."""
    owned = [c for c in concerns if c.owner_id is not None]
    if not owned:
        return {}
    names = {
        (m.user_id, m.group_id): m.display_name
        for m in Membership.objects.filter(
            user_id__in={c.owner_id for c in owned},
            group_id__in={c.group_id for c in owned},
            status=MembershipStatus.ACTIVE,
        ).only("user_id", "group_id", "display_name")
    }
    return {c.pk: names.get((c.owner_id, c.group_id)) or c.owner.get_username() for c in owned}


@dataclass(frozen=True)
class InboxRow:
    """One concern to answer, as the inbox shows it (never its text)."""

    concern: Concern
    owner_name: str | None  # None: nobody has taken it yet
    owned_by_viewer: bool
    may_take: bool
    overdue: bool  # past its answer-by time and nobody has acknowledged it (`is_late`)


@dataclass(frozen=True)
class ConcernInbox:
    """The concerns page: those she raised, and those she handles in the order to answer them;
    for a safeguarding lead, the escalated ones she has not opened yet apart, at the top."""

    mine: list[Concern]
    inbox: list[InboxRow]
    new_to_you: list[InboxRow]
    now: datetime


def _opened_since_escalation(viewer: User) -> Exists:
    """Has `viewer` opened the concern since it was escalated? (Her reads are audited.)"""
    return Exists(
        AuditEntry.objects.filter(
            actor_id=viewer.pk,
            action="concern.viewed",
            target_type=Concern._meta.model_name,
            target_id=Cast(OuterRef("pk"), CharField()),
            at__gte=OuterRef("escalated_at"),
        )
    )


def concern_inbox(*, viewer: User) -> ConcernInbox:
    """Her own concerns apart from those to answer: open before closed, urgent first, then by
    the time they should be acknowledged by."""
    now = timezone.now()
    rows = concern_list(viewer=viewer)
    lead = getattr(viewer, "org_role", None) == LEAD
    if lead:
        rows = rows.annotate(opened=_opened_since_escalation(viewer))
    mine: list[Concern] = []
    handled: list[Concern] = []
    for concern in rows:
        (mine if is_reporter(viewer, concern) else handled).append(concern)
    names = owner_names(handled)
    roles = concern_roles(viewer, handled)
    inbox: list[InboxRow] = []
    new_to_you: list[InboxRow] = []
    for concern in handled:
        row = InboxRow(
            concern=concern,
            owner_name=names.get(concern.pk),
            owned_by_viewer=concern.owner_id == viewer.pk,
            may_take=concern.status != ConcernStatus.CLOSED
            and concern.owner_id != viewer.pk
            and roles.get(concern.pk) in TAKERS,
            overdue=is_late(concern, now),
        )
        is_new = (
            lead
            and concern.escalated_at is not None
            and concern.status != ConcernStatus.CLOSED
            and not concern.opened
        )
        (new_to_you if is_new else inbox).append(row)
    return ConcernInbox(mine=mine, inbox=inbox, new_to_you=new_to_you, now=now)


def unread_answer_q() -> Q:
    """A concern with an answer (a staff reply or a status change) she has not opened since."""
    return Q(answered_at__isnull=False) & (
        Q(reporter_seen_at__isnull=True) | Q(answered_at__gt=F("reporter_seen_at"))
    )


def has_unread_answer(concern: Concern) -> bool:
    """`unread_answer_q` in Python, for one concern already loaded."""
    return concern.answered_at is not None and (
        concern.reporter_seen_at is None or concern.answered_at > concern.reporter_seen_at
    )


def unread_answers(*, viewer: Any) -> bool:
    """Has any concern `viewer` raised an answer she has not opened yet? One statement, on the
    partial index of answered concerns by reporter; False, with no statement, when signed out.
    Never how many, never which: a dot is all the navigation shows."""
    if not getattr(viewer, "is_authenticated", False):
        return False
    return (
        Concern.objects.filter(unread_answer_q(), reporter__user_id=viewer.pk).values("pk").exists()
    )


def reply_times() -> list[tuple[str, str]]:
    """(urgency, "We aim to answer an urgent concern within 1 hour.") for each urgency, most
    urgent first, from the acknowledge-by settings (`HAVEN_CONCERN_ACK_*_HOURS`)."""
    return [(urgency, reply_time(urgency)) for urgency in URGENCY_ORDER]


def _within(hours: int) -> str:
    if hours >= 48 and hours % 24 == 0:
        days = hours // 24
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


def reply_time(urgency: str) -> str:
    """The aim for one urgency, in her words."""
    within = _within(settings.HAVEN_CONCERN_ACK_HOURS[urgency])
    if urgency == Urgency.URGENT:
        return _("We aim to answer an urgent concern within %(time)s.") % {"time": within}
    if urgency == Urgency.LOW:
        return _("We aim to answer a low urgency concern within %(time)s.") % {"time": within}
    return _("We aim to answer a normal concern within %(time)s.") % {"time": within}


@dataclass(frozen=True)
class StaffConcernCounts:
    """What staff see on every page: open concerns she handles, and the urgent ones past their
    answer-by time that nobody has acknowledged."""

    open: int
    urgent_late: int


def staff_concern_counts(*, viewer: Any, now: datetime | None = None) -> StaffConcernCounts | None:
    """The counts for a member of staff (None for anyone else, at no cost): two statements,
    her memberships and one aggregate over the (status, acknowledge_by)-indexed concerns."""
    if not needs_second_factor(viewer) or not getattr(viewer, "is_authenticated", False):
        return None
    moment = now or timezone.now()
    counts = concerns_handled_by(viewer).aggregate(
        open=Count("pk", filter=~Q(status=ConcernStatus.CLOSED)),
        urgent_late=Count("pk", filter=late_q(moment) & Q(urgency=Urgency.URGENT)),
    )
    return StaffConcernCounts(open=counts["open"], urgent_late=counts["urgent_late"])


def concern_detail(*, viewer: User, concern_id: Any) -> tuple[Concern, ConcernRole]:
    """One concern for someone who may see it (404 for anyone else).

    Every read by someone handling it is audited (who, which, when); her own reads are not.
    """
    concern, role = concern_for(actor=viewer, concern_id=concern_id)
    if role == ConcernRole.REPORTER:
        # She has read every answer so far: the dot on "Concerns" goes (issue 17).
        seen = timezone.now()
        Concern.objects.filter(pk=concern.pk).update(reporter_seen_at=seen)
        concern.reporter_seen_at = seen
    else:
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


def concern_notes(*, concern: Concern, role: ConcernRole) -> list[ConcernNote] | None:
    """The staff-only notes on `concern`, oldest first, for those who move it (None for anyone
    else: the woman who raised it never sees them, nor does a peer mentor)."""
    if role not in NOTE_WRITERS:
        return None
    return list(concern.staff_notes.select_related("author").order_by("at", "id"))


def concern_notes_for(*, viewer: User, concern_id: Any) -> list[ConcernNote]:
    """The staff notes of one concern, for those who move it; "not found" for anyone else,
    exactly as for a concern she may not see (a peer mentor does not learn notes exist)."""
    concern, role = concern_for(actor=viewer, concern_id=concern_id)
    notes = concern_notes(concern=concern, role=role)
    if notes is None:
        raise NotFound()
    return notes


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


# --- referrals (issue 17) --------------------------------------------------------------------


def referrals_mine(*, viewer: Any) -> QuerySet[Referral]:
    """The referrals that concern the viewer (`policies.referrals_of_subject`), waiting first."""
    waiting_first = Case(
        When(status=ReferralStatus.PROPOSED, then=V(0)), default=V(1), output_field=IntegerField()
    )
    return (
        referrals_of_subject(viewer)
        .select_related("group")
        .order_by(waiting_first, "-proposed_at", "-id")
    )


def referral_waiting(*, viewer: Any, group: Any = None) -> bool:
    """Is a referral of hers waiting for her answer (in `group`, or any)? One statement."""
    rows = referrals_of_subject(viewer).filter(status=ReferralStatus.PROPOSED)
    if group is not None:
        rows = rows.filter(group=group)
    return rows.exists()


def referral_detail(*, viewer: User, referral_id: Any) -> Referral:
    """Her own referral, for her to read (everyone else: not found)."""
    referral, _role = referral_for(
        actor=viewer, referral_id=referral_id, roles=frozenset({ReferralRole.SUBJECT})
    )
    return referral


def referrals_of_group(*, viewer: User, group_id: Any, member: Any = None) -> QuerySet[Referral]:
    """A group's referrals for those who may propose them (status and facts, never read out
    as text by the pages); `member` narrows to one member's. Everyone else: not found."""
    group = group_for(viewer, group_id, Action.REFERRAL_PROPOSE, visible=Action.REFERRAL_PROPOSE)
    rows = Referral.objects.filter(group=group).select_related("membership")
    if member is not None:
        rows = rows.filter(membership=member)
    return rows


def referral_for_staff(*, viewer: User, referral_id: Any) -> tuple[Referral, bool]:
    """A referral as staff follow it, and whether its pack is open to the viewer now."""
    referral, role = referral_for(
        actor=viewer,
        referral_id=referral_id,
        roles=frozenset({ReferralRole.STAFF, ReferralRole.PACK_READER}),
    )
    return referral, may_read_pack(viewer, referral, role)


def referral_services() -> QuerySet[HelpService]:
    """The directory's services a referral may go to: the active ones, in the page's order."""
    return help_services_active().select_related("organization")


# --- The "Get help now" directory (issue 17) ---------------------------------------------
# Public on purpose: the directory is what anyone may read, signed in or not, so these
# selectors take no viewer.


@dataclass(frozen=True)
class HelpGroup:
    category: str
    label: str
    services: list[HelpService]


def help_services_active() -> QuerySet[HelpService]:
    """The services the directory lists (and a referral may go to): the active ones."""
    return HelpService.objects.filter(status=HelpServiceStatus.ACTIVE)


def help_services() -> QuerySet[HelpService]:
    """Active services with their organisation, phones, opening times and places, in one
    query per table."""
    return (
        help_services_active()
        .select_related("organization")
        .prefetch_related(
            "phones",
            "locations",
            Prefetch("schedules", queryset=HelpSchedule.objects.order_by("weekday", "opens_at")),
        )
    )


def help_directory() -> list[HelpGroup]:
    """The directory as the help page shows it: by category (crisis lines first, in
    `HELP_CATEGORY_ORDER`), each service with its opening times worked out
    (`service.opening_times`)."""
    by_category: dict[str, list[HelpService]] = {}
    for service in help_services():
        service.opening_times = opening_times(list(service.schedules.all()))
        by_category.setdefault(service.category, []).append(service)
    return [
        HelpGroup(category=c, label=str(HelpCategory(c).label), services=by_category[c])
        for c in HELP_CATEGORY_ORDER
        if c in by_category
    ]


def opening_times(schedules: list[HelpSchedule]) -> list[str]:
    """Plain lines for a service's opening times: days in a row with the same hours are joined
    ("Monday to Friday: 10:00 to 20:00"); a description stands as it is written."""
    lines: list[str] = []
    runs: list[tuple[int, int, HelpSchedule]] = []
    for row in schedules:
        if row.weekday is None:
            lines.append(row.description)
            continue
        last = runs[-1] if runs else None
        same = last and (last[2].opens_at, last[2].closes_at, last[2].description) == (
            row.opens_at,
            row.closes_at,
            row.description,
        )
        if last and same and row.weekday == last[1] + 1:
            runs[-1] = (last[0], row.weekday, last[2])
        else:
            runs.append((row.weekday, row.weekday, row))
    for first, last_day, row in runs:
        days = str(HelpSchedule(weekday=first).get_weekday_display())
        if last_day != first:
            days = _("%(first)s to %(last)s") % {
                "first": days,
                "last": HelpSchedule(weekday=last_day).get_weekday_display(),
            }
        if row.opens_at and row.closes_at:
            hours = _("%(opens)s to %(closes)s") % {
                "opens": time_format(row.opens_at, "H:i"),
                "closes": time_format(row.closes_at, "H:i"),
            }
            text = f"{days}: {hours}" + (f" ({row.description})" if row.description else "")
        else:
            text = f"{days}: {row.description}"
        lines.append(text)
    return lines
