"""Sessions, their plans and attendance, the content-warning taxonomy and the durable log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from groups.models import Group, Membership
from project.crypto import EncryptedTextField

CW_KEY_MAX, CW_LABEL_MAX, CW_DESCRIPTION_MAX = 40, 80, 200  # a category's key and words


class ContentWarning(models.Model):
    """A category a message or a session can be marked with ("sexual violence", ...). Changed
    only through `services.content_warning_*`, read through `facilitation.taxonomy`; never
    deleted: a retired one is not offered but still labels what was marked with it."""

    key = models.SlugField(_("key"), max_length=CW_KEY_MAX, primary_key=True)
    label = models.CharField(_("label"), max_length=CW_LABEL_MAX)
    description = models.CharField(_("description"), max_length=CW_DESCRIPTION_MAX, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    retired = models.BooleanField(_("retired"), default=False)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("content warning")
        verbose_name_plural = _("content warnings")

    def __str__(self) -> str:
        return self.key


class SessionKind(models.TextChoices):
    BOOKED = "booked", _("Booked")
    DROP_IN = "drop_in", _("Drop-in")


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    OPEN = "open", _("Open")
    LIVE = "live", _("Live")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


class Session(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=120)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=SessionKind.choices, default=SessionKind.BOOKED)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    # Keys of the taxonomy the topic is expected to touch, so members can choose beforehand.
    content_warnings = models.JSONField(default=list, blank=True)
    co_hosts = models.ManyToManyField(Membership, blank=True, related_name="co_hosted_sessions")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The seq of the newest durable event; bumped under a row lock with every event.
    last_seq = models.PositiveBigIntegerField(default=0)
    # When it was ended (issue 16: who left early, the past sessions list); null before.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]

    def __str__(self) -> str:
        return f"session {self.pk}"

    def is_co_host(self, membership: Membership) -> bool:
        cached = getattr(self, "_prefetched_objects_cache", {}).get("co_hosts")
        if cached is not None:
            return any(m.pk == membership.pk for m in cached)
        return self.co_hosts.filter(pk=membership.pk).exists()


class PlanItemKind(models.TextChoices):
    CHECK_IN = "check_in", _("Check-in")
    TOPIC = "topic", _("Topic")
    ROUND = "round", _("Round")
    GROUNDING = "grounding", _("Grounding")
    BREAK = "break", _("Break")
    CHECK_OUT = "check_out", _("Check-out")


class PlanItem(models.Model):
    """One agenda item of a session's plan; `position` orders them."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="plan_items")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=PlanItemKind.choices)
    minutes = models.PositiveIntegerField()
    notes = EncryptedTextField(blank=True, default="")
    content_warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["session_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "position"], name="plan_position_unique")
        ]

    def __str__(self) -> str:
        return f"plan item {self.pk}"


class PresenceStatus(models.TextChoices):
    HERE = "here", _("Here")
    STEPPED_OUT = "stepped_out", _("Stepped out")


class Attendance(models.Model):
    """One connection of a member to a session's room: from entering to leaving.

    `last_seen_at` is refreshed by the connection's heartbeat, so a connection whose server
    process died stops counting as present after a short while. `process` names the server
    process that holds the connection (`services.room.PROCESS_ID`, random at each start): a
    process that is stopped closes its open rows in one statement (`room_close_process`).
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="attendance")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=PresenceStatus.choices, default=PresenceStatus.HERE
    )
    # The first time she stepped out on this connection (the session summary's register).
    stepped_out_at = models.DateTimeField(null=True, blank=True)
    # The server process holding the connection (empty: opened before issue 20, or by a
    # process still running the old code during an upgrade: hence the database default).
    process = models.CharField(max_length=32, blank=True, default="", db_default="")

    class Meta:
        ordering = ["joined_at", "id"]
        indexes = [
            # Who is in the room now (entering, leaving, presence, and a stopping process's
            # connections, `room_close_process`): open connections only, so the years of
            # closed ones never slow a room down. Keep it the only partial index on open rows
            # (test_entry_cost.py says why).
            models.Index(
                fields=["session", "membership"],
                condition=models.Q(left_at__isnull=True),
                name="attendance_open",
            ),
        ]

    def __str__(self) -> str:
        return f"attendance {self.pk}"


class Participant(models.Model):
    """What a host decided about one member in one session: a mute, a removal."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="participants")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    muted_until = models.DateTimeField(null=True, blank=True)
    mute_reason = EncryptedTextField(blank=True, default="")
    removed_at = models.DateTimeField(null=True, blank=True)
    remove_reason = EncryptedTextField(blank=True, default="")
    # The host chose "tell the room" for the mute in force: the room hears that someone is
    # taking a pause (never who), and that the pause ended. A column default too, since the
    # room's plain-SQL entry inserts participant rows.
    mute_announced = models.BooleanField(default=False, db_default=False)
    # The session's last seq when she first entered its room: what was said before is not
    # hers to read (hosts read everything). Null until she enters.
    first_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "membership"], name="one_participant_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"participant {self.pk}"


class Message(models.Model):
    """A message in a session's room. The body is encrypted at rest."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    client_id = models.UUIDField()
    body = EncryptedTextField(blank=True, default="")
    cw_category = models.CharField(max_length=40, blank=True, default="")
    cw_note = EncryptedTextField(blank=True, default="")
    sent_at = models.DateTimeField(default=timezone.now)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hide_reason = EncryptedTextField(blank=True, default="")
    # Set by retention or erasure: the body is gone for good.
    purged_at = models.DateTimeField(null=True, blank=True)
    # Set when retention or erasure would have removed the body but an open concern holds it:
    # the room shows it exactly like a purged one; only the concern's handlers read it.
    held_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "author", "client_id"], name="message_client_id_unique"
            )
        ]
        indexes = [models.Index(fields=["author", "sent_at"])]

    def __str__(self) -> str:
        return f"message {self.pk}"

    @property
    def content_warning(self) -> dict[str, Any] | None:
        if not self.cw_category:
            return None
        return {"category": self.cw_category, "note": self.cw_note or None}


class Round(models.Model):
    """A check-in round: each present member in turn speaks, or passes without a reason."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="rounds")
    prompt = EncryptedTextField(blank=True, default="")
    order = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    passed = models.JSONField(default=list)
    # How each turn taken so far ended: {"<member_id>": "passed" | "done" | "skipped"}.
    outcomes = models.JSONField(default=dict)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "-started_at"]

    def __str__(self) -> str:
        return f"round {self.pk}"

    @property
    def current(self) -> int | None:
        return self.order[self.position] if self.position < len(self.order) else None


class NoticeCode(models.TextChoices):
    MESSAGE_HIDDEN = "message_hidden", _("Message hidden")
    WARNING_ADDED = "warning_added", _("Warning added")
    MUTED = "muted", _("Muted")
    UNMUTED = "unmuted", _("Unmuted")
    REMOVED = "removed", _("Removed")


class PrivateNotice(models.Model):
    """What a host did about one member in one session, told to her alone and kept until she
    dismisses it (a mute's notice only until the mute ends), so a reload or a reconnect shows
    it again. The reason is encrypted like every other reason; retention empties it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="notices")
    recipient = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=16, choices=NoticeCode.choices)
    # The host who acted; null once her membership is gone (erasure).
    by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = EncryptedTextField(blank=True, default="")
    # When a mute ends.
    until = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Her notices in a session that she has not dismissed: read on every resume.
            models.Index(
                fields=["session", "recipient"],
                condition=models.Q(dismissed_at__isnull=True),
                name="notice_active",
            )
        ]

    def __str__(self) -> str:
        return f"notice {self.pk}"


class SessionEvent(models.Model):
    """The durable session log: every event that changes a session, numbered 1, 2, 3 ...

    Written in the same transaction as the change it records; `resume` replays from here.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    # For `message` events the text lives (encrypted) in the message row, not in the log.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Any other text of the event (a status note, a round's prompt), encrypted, as JSON; the
    # payload keeps those keys as null. Retention empties it.
    text = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["session", "seq"], name="event_seq_unique")]

    def __str__(self) -> str:
        return f"event {self.session_id}#{self.seq}"

    def as_event(self) -> dict[str, Any]:
        text = json.loads(self.text) if self.text else {}
        return {"type": self.type, "seq": self.seq, **self.payload, **text}


class SupportKind(models.TextChoices):
    MINUTE = "minute", _("I need a minute")
    MESSAGE_ME = "message_me", _("Please message me privately")
    NOT_SAFE = "not_safe", _("I'm not safe right now")
    LEFT_QUICKLY = "left_quickly", _("Left quickly")


class SupportStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    SEEN = "seen", _("Seen")
    TAKEN = "taken", _("Taken")
    CLOSED = "closed", _("Closed")


class SupportRequest(models.Model):
    """A member's "I need support", from a session's room or from her group's page (session
    null), kept until a host closes it so no request goes nowhere. The note is encrypted;
    retention empties it. `hosts_told`: a host had a live connection to the session when it
    was stored (never true from the group page)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="support_requests"
    )
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=SupportKind.choices)
    note = EncryptedTextField(blank=True, default="")
    client_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now)
    hosts_told = models.BooleanField(default=False)
    # The hosts who saw, took and closed it; null once a host's membership is gone (erasure).
    seen_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seen_at = models.DateTimeField(null=True, blank=True)
    taken_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "client_id"], name="support_client_id_unique"
            )
        ]
        indexes = [
            # The requests still open in a group (hosts' session.state, the facilitators' list).
            models.Index(
                fields=["group", "session"],
                condition=models.Q(closed_at__isnull=True),
                name="support_open",
            )
        ]

    def __str__(self) -> str:
        return f"support request {self.pk}"

    @property
    def status(self) -> str:
        if self.closed_at is not None:
            return SupportStatus.CLOSED
        if self.taken_at is not None:
            return SupportStatus.TAKEN
        if self.seen_at is not None:
            return SupportStatus.SEEN
        return SupportStatus.SENT

    @property
    def status_by(self) -> Membership | None:
        """The host who made it what it is now (closed, took or saw it), or None."""
        return {
            SupportStatus.CLOSED: self.closed_by,
            SupportStatus.TAKEN: self.taken_by,
            SupportStatus.SEEN: self.seen_by,
        }.get(self.status)

    @property
    def status_at(self) -> datetime:
        return self.closed_at or self.taken_at or self.seen_at or self.created_at


class CheckInMoment(models.TextChoices):
    IN = "in", _("Arriving")
    OUT = "out", pgettext_lazy("check-in moment", "Leaving")


class Mood(models.TextChoices):
    STRUGGLING = "struggling", _("Struggling")
    LOW = "low", pgettext_lazy("mood", "Low")
    OKAY = "okay", _("Okay")
    GOOD = "good", _("Good")
    STRONG = "strong", _("Strong")


class CheckIn(models.Model):
    """How she is, said privately on arriving (`in`) or leaving (`out`): once each per session.
    The hosts read it; peer mentors never read the note unless she shared it. The note is
    encrypted; retention empties it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="checkins")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    moment = models.CharField(max_length=8, choices=CheckInMoment.choices)
    mood = models.CharField(max_length=16, choices=Mood.choices)
    note = EncryptedTextField(blank=True, default="")
    share_note_with_peer_mentors = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "membership", "moment"], name="one_checkin_per_moment"
            )
        ]

    def __str__(self) -> str:
        return f"check-in {self.pk}"


class CheckInSkip(models.Model):
    """She chose Skip for a moment: kept so she is never asked twice in a session (a reload,
    another tab). Nobody else hears of it; it holds no text."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    moment = models.CharField(max_length=8, choices=CheckInMoment.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "membership", "moment"], name="one_checkin_skip_per_moment"
            )
        ]

    def __str__(self) -> str:
        return f"check-in skip {self.pk}"


class PrivateThread(models.Model):
    """The one private thread between a member and her group's hosts: opened by her ("Please
    message me privately"), by a host taking her request, or by a host's first reply."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "membership"], name="one_thread_per_member")
        ]

    def __str__(self) -> str:
        return f"private thread {self.pk}"


class PrivateMessage(models.Model):
    """One message of a private thread; the body is encrypted and emptied by retention."""

    thread = models.ForeignKey(PrivateThread, on_delete=models.CASCADE, related_name="messages")
    # Her, or a host; null once the author's membership is gone (erasure).
    author = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = EncryptedTextField(blank=True, default="")
    client_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_id"], name="private_message_client_id_unique"
            )
        ]
        indexes = [models.Index(fields=["thread", "created_at"])]

    def __str__(self) -> str:
        return f"private message {self.pk}"


class FollowUp(models.Model):
    """A tick on a session summary's follow-up list: someone who asked for support or arrived
    or left struggling has been followed up. Who is on the list is worked out from the session
    (`facilitation.selectors.follow_ups`); only the tick is stored. No text."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="follow_ups")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    # The host who ticked it; null once her membership is gone (erasure).
    done_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "membership"], name="one_follow_up_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"follow-up {self.pk}"


class Debrief(models.Model):
    """A host's private debrief note after a session: read by the group's facilitators and the
    safeguarding leads, never by members or peer mentors. Encrypted; retention empties it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="debriefs")
    # Null once the author's membership is gone (erasure).
    author = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"debrief {self.pk}"


class HandoverNote(models.Model):
    """What the next facilitator should know, written after a session; the latest shows on the
    group page for its facilitators. Encrypted; retention empties it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="handovers")
    author = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"handover note {self.pk}"


class TalkRequest(models.Model):
    """A host's "This was a hard session, I would like to talk to someone", to the safeguarding
    lead she chose. Only that lead reads it (`talk_requests_for`). It holds no text."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "created_at"])]

    def __str__(self) -> str:
        return f"talk request {self.pk}"
