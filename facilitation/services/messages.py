"""Posting a message: the one accept rule, and the two paths that apply it.

`post_verdict` decides whether a post is accepted, for every path: the threaded
`message_post` (any database), the event-loop `message_post_fast` (PostgreSQL, the plain
case) and the connection's own flood pre-check (`RecentPosts`). `message_send` chooses the
path, so the consumer knows nothing of databases. The statements are in `facilitation.sql`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events, sql
from facilitation.models import Message, Participant, Session, SessionEvent, SessionStatus
from facilitation.services.context import RoomContext
from facilitation.taxonomy import clean_warning
from groups.models import MembershipStatus, User
from groups.policies import Action, can
from project import asyncdb, metrics, realtime
from project.exceptions import ApplicationError, Forbidden, ValidationFailed
from project.sql import prepared_cursor

BODY_MAX = 4000
# A member may send this many messages per window, across all her tabs and server processes.
RATE_LIMIT_MESSAGES = 8
RATE_LIMIT_WINDOW = timedelta(seconds=10)

Outbox = list[tuple[str, dict[str, Any]]]


class Verdict(enum.Enum):
    """What happens to one post."""

    ACCEPT = "accept"
    GONE = "gone"  # she is no longer in this session (removed, left the group, signed out)
    RESEND = "resend"  # already stored under this client_id: answer with the first event
    MUTED = "muted"
    RATE_LIMITED = "rate_limited"


def post_verdict(*, in_session: bool, resend: bool, muted: bool, recent: int) -> Verdict:
    """The one accept rule of a post, whoever asks (see the module docstring).

    `recent` is how many messages she sent within RATE_LIMIT_WINDOW. The insert statement
    re-checks the same limit under the session lock (`sql.post()["insert"]`, given
    RATE_LIMIT_MESSAGES), because another tab may post between the check and the lock. The
    event loop's post spells the whole rule in SQL (`sql.post()["plain"]`, so that it commits
    in one round trip); test_post_verdict.py holds it to this rule, case by case.
    """
    if not in_session:
        return Verdict.GONE
    if resend:
        return Verdict.RESEND
    if muted:
        return Verdict.MUTED
    if recent >= RATE_LIMIT_MESSAGES:
        return Verdict.RATE_LIMITED
    return Verdict.ACCEPT


def row_verdict(row: sql.PostCheckRow | None, context: RoomContext) -> Verdict:
    """`post_verdict` on what the check statement read."""
    if row is None:
        return Verdict.GONE
    return post_verdict(
        in_session=bool(row.present)
        and row.status == MembershipStatus.ACTIVE
        and row.user_id == context.user_id,
        resend=row.existing is not None,
        muted=bool(row.muted),
        recent=row.recent,
    )


def rate_limited() -> ApplicationError:
    """The refusal of one message too many."""
    return ApplicationError(
        _("You are sending messages very fast. Please wait a moment."), code="rate_limited"
    )


class RecentPosts:
    """The messages one connection got acked within the flood window, oldest first.

    They are among what the database counts for her (across her tabs and server processes),
    so when they alone fill the window the database would refuse too: a flood from one
    connection is answered without a database round trip, and never queues behind the room's
    database work. A resend of one of them still goes through, to get its `ack` again.
    """

    def __init__(self) -> None:
        # A list, not a deque: it holds at most the flood window's few posts, and an empty
        # deque costs 760 bytes on every idle connection (docs/performance.md, S4 memory).
        self.sent: list[tuple[datetime, str]] = []

    def refuse_flood(self, client_id: Any, now: datetime) -> None:
        horizon = now - RATE_LIMIT_WINDOW
        while self.sent and self.sent[0][0] < horizon:
            del self.sent[0]
        try:
            resend = str(uuid.UUID(client_id)) in {cid for _sent, cid in self.sent}
        except (TypeError, ValueError, AttributeError):
            resend = False
        verdict = post_verdict(in_session=True, resend=resend, muted=False, recent=len(self.sent))
        if verdict is Verdict.RATE_LIMITED:
            raise rate_limited()

    def record(self, sent_at: datetime, client_id: str) -> None:
        self.sent.append((sent_at, client_id))


def _clean_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed({"body": [_("Write a message first.")]})
    if len(body) > BODY_MAX:
        # PROTOCOL.md gives an over-long message its own code, `too_long`.
        raise ApplicationError(
            _("Messages can be up to %(max)d characters.") % {"max": BODY_MAX}, code="too_long"
        )
    return body


def clean_client_id(client_id: Any) -> uuid.UUID:
    """A client's id for what it sends (a message, a support request): a UUID, or invalid."""
    if isinstance(client_id, str):
        try:
            return uuid.UUID(client_id)
        except ValueError:
            pass
    raise ValidationFailed({"client_id": [_("Give a UUID.")]})


class _PostRefused(Exception):
    """Rolls back a post whose lock or insert found it must not be stored as it is."""


def _post_existing(context: RoomContext, client_uuid: uuid.UUID) -> tuple[dict[str, Any], bool]:
    """The event of a message this member already sent with this client_id."""
    existing = (
        Message.objects.select_related("author")
        .filter(session_id=context.session_id, author_id=context.member_id, client_id=client_uuid)
        .first()
    )
    if existing is None:
        raise rate_limited()
    seq = SessionEvent.objects.filter(message=existing).values_list("seq", flat=True)[0]
    return events.message_from_row(existing, seq), False


def _post_refusal(actor: User, context: RoomContext, status: str) -> None:
    """Raise why a session in `status` (not live) refuses this post, if it does.

    Members post only while the session is live; hosts also while it is open or paused.
    """
    session = Session.objects.prefetch_related("co_hosts").get(pk=context.session_id)
    is_host = can(actor, Action.SESSION_HOST, session=session)
    if status == SessionStatus.PAUSED and not is_host:
        raise ApplicationError(
            _("The room is paused for a grounding break."), code="session_paused"
        )
    if status not in {SessionStatus.OPEN, SessionStatus.PAUSED} or not is_host:
        raise ApplicationError(_("The session has not started yet."), code="not_live")


@dataclass
class _Post:
    """One `message.send`, validated, with the parameters of its statements (`sql.post`)."""

    context: RoomContext
    text: str
    category: str
    note: str
    client_uuid: uuid.UUID
    now: datetime
    db_now: Any
    db_client: Any
    db_since: Any
    db_body: Any
    db_note: Any
    payload: Any
    check: list[Any]
    insert: list[Any]

    def event_params(self, seq: int, message_id: int) -> list[Any]:
        """The log row's values (`event`), once the seq and the message id are known."""
        return [self.context.session_id, seq, "message", self.payload, message_id, self.db_now]

    def plain_params(self) -> dict[str, Any]:
        """The named parameters of `plain` and `settle`, for the event loop's path."""
        context = self.context
        return {
            "session": context.session_id,
            "live": SessionStatus.LIVE,
            "member": context.member_id,
            "user": context.user_id,
            "now": self.db_now,
            "active": MembershipStatus.ACTIVE,
            "client": self.db_client,
            "since": self.db_since,
            "limit": RATE_LIMIT_MESSAGES,
            "body": self.db_body,
            "category": self.category,
            "note": self.db_note,
            "type": "message",
            "payload": self.payload,
        }

    @property
    def room_group(self) -> str:
        return events.session_group(self.context.session_id)

    def posted(self, seq: int, message_id: int, display_name: str, role: str) -> dict[str, Any]:
        """The `message` event the room receives."""
        event = events.message(
            message_id=message_id,
            author_data=events.author(
                member_id=self.context.member_id, display_name=display_name, role=role
            ),
            body=self.text,
            content_warning=(
                {"category": self.category, "note": self.note or None} if self.category else None
            ),
            sent_at=self.now,
            client_id=str(self.client_uuid),
        )
        return events.with_seq(event, seq)


def _post_prepare(context: RoomContext, body: Any, content_warning: Any, client_id: Any) -> _Post:
    """Validate a `message.send` (raises ValidationFailed) and build its statements' values."""
    client_uuid = clean_client_id(client_id)
    text = _clean_body(body)
    category, note = clean_warning(content_warning)
    fields = Message._meta
    now = timezone.now()
    db_now, db_since = sql.db_time(now), sql.db_time(now - RATE_LIMIT_WINDOW)
    db_client = fields.get_field("client_id").get_db_prep_value(client_uuid, connection)
    member_id, session_id = context.member_id, context.session_id
    db_body = fields.get_field("body").get_db_prep_value(text, connection)
    db_note = fields.get_field("cw_note").get_db_prep_value(note, connection)
    return _Post(
        context=context,
        text=text,
        category=category,
        note=note,
        client_uuid=client_uuid,
        now=now,
        db_now=db_now,
        db_client=db_client,
        db_since=db_since,
        db_body=db_body,
        db_note=db_note,
        payload=SessionEvent._meta.get_field("payload").get_db_prep_value({}, connection),
        check=[
            db_now,
            member_id,
            db_since,
            session_id,
            member_id,
            db_client,
            session_id,
            member_id,
        ],
        insert=[
            session_id,
            member_id,
            db_client,
            db_body,
            category,
            db_note,
            db_now,
            member_id,
            db_since,
            RATE_LIMIT_MESSAGES,
        ],
    )


def message_post(
    *, actor: User, context: RoomContext, body: Any, content_warning: Any, client_id: Any
) -> tuple[dict[str, Any], bool]:
    """Store a message and append it to the log; returns (event, created).

    Resending the same `client_id` stores nothing new and returns the first event, so a
    client that lost the ack can retry safely. Members post only while the session is live;
    hosts also while it is open or paused. A muted member is refused until the mute ends, and
    a member may send RATE_LIMIT_MESSAGES per RATE_LIMIT_WINDOW (counted in the database, so
    it holds across tabs and server processes): `post_verdict` decides.

    One transaction of four statements: a check without lock (refusals stop here), the session
    row lock that hands out the seq, the message insert, the log entry. `message_post_fast` is
    the same transaction on the event loop for the plain case.
    """
    post = _post_prepare(context, body, content_warning, client_id)
    statements = sql.post()
    try:
        with transaction.atomic(), prepared_cursor() as cursor:
            cursor.execute(statements["check"], post.check)
            found = cursor.fetchone()
            row = sql.PostCheckRow(*found) if found is not None else None
            verdict = row_verdict(row, context)
            if verdict is Verdict.GONE:
                raise Forbidden(_("You are no longer in this session."))
            if verdict is Verdict.RESEND:
                raise _PostRefused
            if verdict is Verdict.MUTED:
                until = Participant.objects.get(
                    session_id=context.session_id, membership_id=context.member_id
                ).muted_until
                raise ApplicationError(
                    _("You are muted until %(time)s.") % {"time": until.strftime("%H:%M")},
                    code="muted",
                    extra={"until": events.stamp(until)},
                )
            if verdict is Verdict.RATE_LIMITED:
                raise rate_limited()
            cursor.execute(statements["lock"], [context.session_id])
            lock = sql.LockRow(*cursor.fetchone())
            if lock.status != SessionStatus.LIVE:
                _post_refusal(actor, context, lock.status)
            cursor.execute(statements["insert"], post.insert)
            inserted = cursor.fetchone()
            if inserted is None:
                raise _PostRefused
            cursor.execute(statements["event"], post.event_params(lock.seq, inserted[0]))
            sent = post.posted(lock.seq, inserted[0], row.display_name, row.role)
            realtime.broadcast_on_commit(post.room_group, sent)
    except _PostRefused:
        # Already stored (a resend), or a concurrent tab took the last message of the window.
        return _post_existing(context, post.client_uuid)
    return sent, True


async def message_post_fast(
    *, context: RoomContext, body: Any, content_warning: Any, client_id: Any
) -> tuple[dict[str, Any], Outbox] | None:
    """`message_post`'s transaction for the plain case, on the event loop (project/asyncdb.py).

    Returns the event and its broadcasts (to publish after the sender's ack), or None when
    the post is not plain (one with a content warning, a resend, a refusal, a session that is
    not live, the limit reached by another tab): then nothing was written, and the caller runs
    `message_post`, which explains why. One round trip, commit included: `sql.post()["plain"]`
    writes only what `post_verdict` accepts, under the same session row lock, so the seq has
    no gaps, and `settle` rolls it all back if a race slipped past the lock's snapshot. The
    session row is locked only while PostgreSQL runs them, never across a turn of a busy
    event loop. Raises ValidationFailed for a bad frame and `psycopg.Error` when PostgreSQL
    cannot be reached, or when `settle` rolled a race back.
    """
    if content_warning is not None:
        # Not plain: its category is checked against the taxonomy, read through Django's
        # cache or the table, which belong on a database thread.
        return None
    post = _post_prepare(context, body, content_warning, client_id)
    statements = sql.post()
    params = post.plain_params()
    async with asyncdb.connection() as conn:
        plain, settle = conn.cursor(), conn.cursor()
        # The connection is in autocommit, so the two statements, sent together and followed
        # by one Sync when the pipeline ends, are one (implicit) transaction of PostgreSQL's:
        # committed at the Sync, or rolled back whole if `settle` fails. psycopg's
        # `transaction()` would add a round trip for its BEGIN and one for its COMMIT.
        async with conn.pipeline():
            await plain.execute(statements["plain"], params)
            await settle.execute(statements["settle"], params)
        found = await plain.fetchone()
    if found is None:
        return None
    done = sql.PlainPostRow(*found)
    sent = post.posted(done.seq, done.message_id, done.display_name, done.role)
    return sent, [(post.room_group, realtime.forward_message(sent))]


async def message_send(
    *,
    actor: User,
    context: RoomContext,
    recent: RecentPosts,
    outbox: Outbox,
    body: Any,
    content_warning: Any,
    client_id: Any,
) -> dict[str, Any]:
    """A `message.send` from the room, on the path that fits; returns the message event.

    A flood from this connection is refused at once (`recent`); on PostgreSQL the plain case
    runs on the event loop (`message_post_fast`), anything else, or a database the loop cannot
    reach, on a database thread (`message_post`), which explains a refusal or answers
    `unavailable`. The room's broadcasts are left in `outbox`: the caller publishes them after
    answering the sender, so she hears `ack` before the room hears her message.
    """
    started = timezone.now()
    recent.refuse_flood(client_id, started)
    fields = {"body": body, "content_warning": content_warning, "client_id": client_id}
    posted = None
    if asyncdb.enabled():
        try:
            posted = await message_post_fast(context=context, **fields)
        except psycopg.Error:
            posted = None
    if posted is not None:
        event, broadcasts = posted
        outbox.extend(broadcasts)
        created = True
    else:
        event, created = await realtime.run_in_db(
            message_post, outbox=outbox, actor=actor, context=context, **fields
        )
    if created:
        recent.record(started, event["client_id"])
        metrics.MESSAGES_POSTED.inc()
    return event
