"""Every plain-SQL statement of the live room: entering, leaving, the present list, a post.

Why plain SQL: these are what a busy room does most. Entering is what every reconnecting phone
does, and a message is written a hundred times a second in a busy process; on both paths the
ORM's compiler cost more CPU than the database did (docs/performance.md, "What changed" 9 and
12: `message_post` 13.4 → 4.0 ms CPU per message, room entry 31-33 → 10 ms per connection).
Everything else of the room goes through the ORM.

Rules the statements enforce are decided by the same Python as the ORM paths: a post's accept
rule is `facilitation.services.messages.post_verdict` (the statements gather its inputs, and
the insert's guard re-checks the flood limit under the lock with the same constant). The one
exception is `post()["plain"]`, the event loop's post: it decides in the statement, so that
the commit can go in the same round trip, and tests/facilitation/test_post_verdict.py holds it
to `post_verdict`'s answer in every case; the
agreement rule at the door is `groups.selectors.agreement_admits` (issue 16: `enter` gathers
its three version numbers, as `groups.selectors.agreement_facts` and
`facilitation.agreements.sessions_opened_at` do for the ORM paths). Statements are built
once per process from the models' own (quoted) table names; every value is a parameter. All
of them are portable between PostgreSQL and SQLite (3.35+).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from django.db import connection

from facilitation.models import (
    Attendance,
    CheckIn,
    CheckInMoment,
    CheckInSkip,
    Message,
    Participant,
    PrivateMessage,
    PrivateNotice,
    PrivateThread,
    Round,
    Session,
    SessionEvent,
    SessionStatus,
    SupportRequest,
)
from groups.models import (
    Agreement,
    AgreementAcceptance,
    ApiToken,
    GroupRole,
    Membership,
    OrgRole,
)
from groups.sql import token_read, token_statements, token_user
from project.sql import db_time as db_time
from project.sql import model_columns

# The check-in moments in a fixed order: moment i is bit 1 << i of `EntryRow.checked_in` and
# `EntryRow.skipped` (each moment is answered or skipped at most once: unique constraints).
MOMENTS: tuple[str, ...] = tuple(CheckInMoment.values)


def moment_mask(table: str) -> str:
    """A subquery summing the bits of the moments of `table` (check-ins or skips) she has in
    the session; its parameters are `MOMENTS`, in order."""
    bits = " ".join(f"WHEN %s THEN {1 << i}" for i in range(len(MOMENTS)))
    return (
        f"(SELECT COALESCE(SUM(CASE x.moment {bits} ELSE 0 END), 0) FROM {table} x "  # noqa: S608
        "WHERE x.session_id = s.id AND x.membership_id = m.id)"
    )


def moments(mask: int) -> list[str]:
    """The moments whose bits are set in `mask`, sorted (as `selectors.checkin_moments`)."""
    return sorted(moment for i, moment in enumerate(MOMENTS) if int(mask) & (1 << i))


class EntryRow(NamedTuple):
    """Everything entering a room decides on (`ROOM["enter"]`); member fields are None when
    she has no active membership of the session's group."""

    session_id: int
    group_id: int
    title: str
    status: str
    last_seq: int
    member_id: int | None
    display_name: str | None
    role: str | None
    participant_id: int | None
    not_removed: bool | None
    muted: int
    # The inputs of `groups.selectors.agreement_admits`: the newest version she accepted, the
    # group's current version, and the version that was current when the session opened.
    accepted: int | None
    current_version: int | None
    at_opening: int | None
    co_host: int
    round_id: int | None
    first_seq: int | None
    open_connections: int
    # Her own part of `session.state` (issue 20): her latest support request in the session
    # (not a quick exit), and the check-in moments she answered and skipped, as `moment_mask`
    # bits (`moments` reads them back).
    my_support_id: int | None
    checked_in: int
    skipped: int


class PresentRow(NamedTuple):
    """One open attendance of the room (`ROOM["present"]`)."""

    member_id: int
    display_name: str
    role: str
    status: str


class AfterLeaveRow(NamedTuple):
    """After closing one attendance (`ROOM["after_leave"]`)."""

    still_here: int
    open_rounds: int


class PostCheckRow(NamedTuple):
    """Who the author is now and what she sent lately (`POST["check"]`, no lock)."""

    present: bool
    muted: int
    status: str
    user_id: int
    display_name: str
    role: str
    recent: int
    existing: int | None


class LockRow(NamedTuple):
    """The seq a post took and the session's status, under the session row lock."""

    seq: int
    status: str


class PlainPostRow(NamedTuple):
    """What a plain post wrote (`POST["plain"]`), and the author's name and role for the room."""

    seq: int
    message_id: int
    display_name: str
    role: str


# Room entry's plain arrival, in SQL ("enter_at_once"): over the read's row (`u` her account,
# `e` the `EntryRow`), true only where `services.entry` admits her and finds her arrival
# `_plain`, and only for an ordinary member of no org role (a host, or anyone whose roles
# `groups.policies` would have to weigh, takes the two-statement way). NULL counts as false.
# `test_entry_at_once.py` holds the two rules together. Parameters: `fast_params()`.
FAST = (
    "(u.is_active AND u.org_role = %s AND e.member_id IS NOT NULL AND e.role = %s "
    "AND e.co_host = 0 AND (e.participant_id IS NULL OR e.not_removed) "
    "AND (COALESCE(e.at_opening, e.current_version) IS NULL "
    "OR e.accepted >= COALESCE(e.at_opening, e.current_version)) "
    "AND e.status NOT IN (%s, %s) AND e.open_connections < %s "
    "AND e.muted = 0 AND e.round_id IS NULL AND e.my_support_id IS NULL)"
)


def fast_params(sockets_per_member: int) -> list[Any]:
    """The parameters of `FAST`: no org role, an ordinary member, the statuses nobody but a
    host enters, and how many live connections of hers to a session are allowed."""
    return [
        OrgRole.NONE,
        GroupRole.MEMBER,
        SessionStatus.SCHEDULED,
        SessionStatus.ENDED,
        sockets_per_member,
    ]


@functools.cache
def room() -> dict[str, str]:
    """The statements of entering and leaving a room and of its present list."""
    q = connection.ops.quote_name
    session = q(Session._meta.db_table)
    member = q(Membership._meta.db_table)
    participant = q(Participant._meta.db_table)
    attendance = q(Attendance._meta.db_table)
    co_hosts = q(Session.co_hosts.through._meta.db_table)
    agreement = q(Agreement._meta.db_table)
    accepted = q(AgreementAcceptance._meta.db_table)
    rounds = q(Round._meta.db_table)
    event = q(SessionEvent._meta.db_table)
    support = q(SupportRequest._meta.db_table)
    opened = (
        f"(SELECT e.created_at FROM {event} e WHERE e.session_id = s.id "  # noqa: S608
        "AND e.type = %s ORDER BY e.seq LIMIT 1)"
    )

    def enter(user: str) -> str:
        # Each column named as `EntryRow`'s field ("enter_at_once" reads them by name).
        return (
            "SELECT s.id session_id, s.group_id, s.title, s.status, s.last_seq, "  # noqa: S608
            "m.id member_id, m.display_name, m.role, p.id participant_id, "
            "p.removed_at IS NULL not_removed, "
            "CASE WHEN p.muted_until > %s THEN 1 ELSE 0 END muted, "
            f"(SELECT MAX(g.version) FROM {accepted} a JOIN {agreement} g "
            "ON g.id = a.agreement_id WHERE a.membership_id = m.id) accepted, "
            f"(SELECT MAX(g.version) FROM {agreement} g WHERE g.group_id = s.group_id) "
            "current_version, "
            f"(SELECT MAX(g.version) FROM {agreement} g WHERE g.group_id = s.group_id "
            f"AND g.published_at <= {opened}) at_opening, "
            f"(SELECT COUNT(*) FROM {co_hosts} c WHERE c.session_id = s.id "
            "AND c.membership_id = m.id) co_host, "
            f"(SELECT r.id FROM {rounds} r WHERE r.session_id = s.id AND r.ended_at IS NULL "
            "ORDER BY r.started_at DESC LIMIT 1) round_id, p.first_seq, "
            f"(SELECT COUNT(*) FROM {attendance} o WHERE o.session_id = s.id "
            "AND o.membership_id = m.id AND o.left_at IS NULL AND o.last_seen_at >= %s) "
            "open_connections, "
            f"(SELECT sr.id FROM {support} sr WHERE sr.session_id = s.id "
            "AND sr.membership_id = m.id AND sr.kind <> %s "
            "ORDER BY sr.created_at DESC, sr.id DESC LIMIT 1) my_support_id, "
            f"{moment_mask(q(CheckIn._meta.db_table))} checked_in, "
            f"{moment_mask(q(CheckInSkip._meta.db_table))} skipped "
            f"FROM {session} s LEFT JOIN {member} m ON m.group_id = s.group_id "
            f"AND m.user_id = {user} AND m.status = %s "
            f"LEFT JOIN {participant} p ON p.session_id = s.id AND p.membership_id = m.id "
            "WHERE s.id = %s"
        )

    enter_join = f"LEFT JOIN ({enter(f'({token_user()})')}) e ON 1 = 1"
    tokens = q(ApiToken._meta.db_table)
    insert_participant = (
        f"INSERT INTO {participant} (session_id, membership_id, mute_reason, "  # noqa: S608
        "remove_reason, first_seq) VALUES (%s, %s, '', '', %s) "
        "ON CONFLICT (session_id, membership_id) DO NOTHING"
    )
    set_first_seq = (
        f"UPDATE {participant} SET first_seq = %s "  # noqa: S608
        "WHERE session_id = %s AND membership_id = %s AND first_seq IS NULL"
    )
    insert_attendance = (
        f"INSERT INTO {attendance} (session_id, membership_id, joined_at, "  # noqa: S608
        "last_seen_at, status, process) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
    )
    present = "a.membership_id, m.display_name, m.role, a.status"
    present_from = (
        f"FROM {attendance} a JOIN {member} m ON m.id = a.membership_id "
        "WHERE a.session_id = %s AND a.left_at IS NULL AND a.last_seen_at >= %s "
        "AND m.status = %s"
    )
    return {
        # Everything entering decides on, in one read: the session, her active membership of
        # its group, what the hosts decided about her in it, the agreement rule's three version
        # numbers (see EntryRow), whether the session names her co-host, and its open round;
        # from when she may read the log, and how many live connections she has to it already;
        # and her own part of `session.state` (her support request, check-ins and skips).
        # Parameters: now, the opening event's type (`facilitation.agreements.OPENED_EVENT`),
        # presence horizon, the quick exit's kind (`SupportKind.LEFT_QUICKLY`), `MOMENTS`
        # twice, user id, active status, session id.
        "enter": enter("%s"),
        # The same read for a socket that came with a bearer token, with the token and her
        # account (`groups.sql.token_read`), in one statement: she is the token's user.
        # Parameters: those of "enter" with the token's three in place of the user id, then
        # the token's three.
        "enter_with_token": token_read("e.*", enter_join),
        # PostgreSQL, a socket with a bearer token: entry in one statement (issue 20). The
        # read of "enter_with_token" decides in SQL whether she is a plain arrival (`FAST`:
        # what `services.entry` would admit and find `_plain`, for an ordinary member; a
        # narrower rule, never a wider one), and when she is, the statement arrives her as
        # "arrive" would, her token's idle clock with it when due. One row per other present
        # connection, or one: the read's row (token, account, `EntryRow`, then the token's id
        # and the fast verdict), her new attendance's id (NULL: not arrived, nothing
        # written), then `PresentRow` (NULLs when none). Parameters: `fast_params()`, those of
        # "enter_with_token", the touch's (now, due before), the attendance's values after
        # its two ids, then the present list's.
        "enter_at_once": (
            f"WITH r AS ({token_read(f'e.*, t.id token_pk, {FAST} fast', enter_join)}), "  # noqa: S608
            f"tt AS (UPDATE {tokens} SET last_used_at = %s WHERE id = "
            "(SELECT r.token_pk FROM r WHERE r.fast) AND last_used_at < %s), "
            f"tp AS (INSERT INTO {participant} (session_id, membership_id, mute_reason, "
            "remove_reason, first_seq) SELECT r.session_id, r.member_id, '', '', r.last_seq "
            "FROM r WHERE r.fast AND r.participant_id IS NULL "
            "ON CONFLICT (session_id, membership_id) DO NOTHING), "
            f"tf AS (UPDATE {participant} x SET first_seq = r.last_seq FROM r "
            "WHERE r.fast AND x.id = r.participant_id AND x.first_seq IS NULL), "
            f"tn AS (INSERT INTO {attendance} (session_id, membership_id, joined_at, "
            "last_seen_at, status, process) SELECT r.session_id, r.member_id, %s, %s, %s, %s "
            "FROM r WHERE r.fast RETURNING id) "
            "SELECT r.*, tn.id, o.membership_id, o.display_name, o.role, o.status "
            "FROM r LEFT JOIN tn ON TRUE "
            f"LEFT JOIN (SELECT {present}, a.joined_at, a.id {present_from}) o "
            "ON tn.id IS NOT NULL ORDER BY o.joined_at, o.id"
        ),
        "participant": insert_participant,
        # A participant row a host made before she ever entered (a mute) gets its first seq.
        "first_seq": set_first_seq,
        "attendance": insert_attendance,
        "present": f"SELECT {present} {present_from} ORDER BY a.joined_at, a.id",
        # PostgreSQL: her arrival in one statement (atomic by itself): her token's idle clock
        # when it is due ("_touch": `groups.sql.token_statements`' write, issue 20: a restart
        # finds every token due), her participant row on her first entry (or its first seq),
        # her attendance, and who else is present (the statement cannot see its own new row:
        # the caller adds hers). One row per other present connection, in "present"'s order,
        # or one with NULLs: the new attendance's id, then `PresentRow`. Parameters: the
        # touch's (if any), the participant statement's (if any), the attendance's, then the
        # present list's.
        **{
            f"arrive{suffix}{touched}": (
                f"WITH {touch}{first}n AS ({insert_attendance}) "  # noqa: S608
                f"SELECT n.id, o.membership_id, o.display_name, o.role, o.status FROM n "
                f"LEFT JOIN (SELECT {present}, a.joined_at, a.id {present_from}) o ON 1 = 1 "
                "ORDER BY o.joined_at, o.id"
            )
            for suffix, first in (
                ("", ""),
                ("_participant", f"p AS ({insert_participant}), "),
                ("_first_seq", f"p AS ({set_first_seq}), "),
            )
            for touched, touch in (("", ""), ("_touch", f"t AS ({token_statements()[1]}), "))
        },
        "leave": (
            f"UPDATE {attendance} SET left_at = %s WHERE id = %s AND left_at IS NULL"  # noqa: S608
        ),
        # A server process stops: every connection it still holds leaves, in one statement.
        "close_process": (
            f"UPDATE {attendance} SET left_at = %s "  # noqa: S608
            "WHERE process = %s AND left_at IS NULL RETURNING session_id, membership_id"
        ),
        # After leaving: is she still here on another connection, and is a round open?
        "after_leave": (
            f"SELECT (SELECT COUNT(*) FROM {attendance} WHERE session_id = %s "  # noqa: S608
            "AND membership_id = %s AND left_at IS NULL AND last_seen_at >= %s), "
            f"(SELECT COUNT(*) FROM {rounds} WHERE session_id = %s AND ended_at IS NULL)"
        ),
    }


@functools.cache
def post() -> dict[str, str]:
    """The statements of one `message.send` (`services.messages`), in the order they run."""
    q = connection.ops.quote_name
    message = q(Message._meta.db_table)
    member = q(Membership._meta.db_table)
    participant = q(Participant._meta.db_table)
    session = q(Session._meta.db_table)
    event = q(SessionEvent._meta.db_table)

    def recent_count(author: str, since: str) -> str:
        """How many messages she sent since `since`: the flood limit's count."""
        return (
            f"(SELECT COUNT(*) FROM {message} WHERE author_id = {author} "  # noqa: S608
            f"AND sent_at >= {since})"
        )

    recent = recent_count("%s", "%s")
    recent_named = recent_count("%(member)s", "%(since)s")
    return {
        # Who she is now (removed, muted, left the group, renamed) and her recent messages,
        # read without a lock so a refused post never waits behind the room's writers: the
        # inputs of `post_verdict`.
        "check": (
            f"SELECT p.removed_at IS NULL, "  # noqa: S608
            f"CASE WHEN p.muted_until > %s THEN 1 ELSE 0 END, "
            f"m.status, m.user_id, m.display_name, m.role, {recent}, "
            f"(SELECT id FROM {message} WHERE session_id = %s AND author_id = %s "
            f"AND client_id = %s) "
            f"FROM {participant} p JOIN {member} m ON m.id = p.membership_id "
            f"WHERE p.session_id = %s AND p.membership_id = %s"
        ),
        # The session row lock orders every writer of the room and hands out the next seq.
        "lock": (
            f"UPDATE {session} SET last_seq = last_seq + 1 WHERE id = %s "  # noqa: S608
            "RETURNING last_seq, status"
        ),
        # Under the lock: a resend of the same client_id, or one message too many from
        # another tab (the flood limit's constant is a parameter), inserts nothing.
        "insert": (
            f"INSERT INTO {message} (session_id, author_id, client_id, body, cw_category, "
            f"cw_note, sent_at, hide_reason) SELECT %s, %s, %s, %s, %s, %s, %s, '' "
            f"WHERE {recent} < %s "
            f"ON CONFLICT (session_id, author_id, client_id) DO NOTHING RETURNING id"
        ),
        "event": (
            f"INSERT INTO {event} (session_id, seq, type, payload, message_id, created_at, "  # noqa: S608
            f"text) VALUES (%s, %s, %s, %s, %s, %s, '')"
        ),
        # The plain case in one statement, for a caller that commits in the same round trip
        # (`message_post_fast`): the session row lock takes the next seq only when
        # `post_verdict` would accept (its four inputs, as "check" reads them: she is still in
        # the session, not a resend, not muted, under the flood limit) and the session is live;
        # then the message, then its log row. No row when anything refuses, and then nothing
        # is written. Named parameters: session, live, member, user, now, active, client,
        # since, limit, body, category, note, type, payload.
        "plain": (
            f"WITH l AS (UPDATE {session} s SET last_seq = s.last_seq + 1 "  # noqa: S608
            "WHERE s.id = %(session)s AND s.status = %(live)s "
            f"AND EXISTS (SELECT 1 FROM {participant} p JOIN {member} m "
            "ON m.id = p.membership_id WHERE p.session_id = s.id "
            "AND p.membership_id = %(member)s AND p.removed_at IS NULL "
            "AND (p.muted_until IS NULL OR p.muted_until <= %(now)s) "
            "AND m.status = %(active)s AND m.user_id = %(user)s) "
            f"AND NOT EXISTS (SELECT 1 FROM {message} WHERE session_id = s.id "
            "AND author_id = %(member)s AND client_id = %(client)s) "
            f"AND {recent_named} < %(limit)s RETURNING s.id, s.last_seq), "
            f"i AS (INSERT INTO {message} (session_id, author_id, client_id, body, cw_category, "
            "cw_note, sent_at, hide_reason) SELECT l.id, %(member)s, %(client)s, %(body)s, "
            "%(category)s, %(note)s, %(now)s, '' FROM l "
            "ON CONFLICT (session_id, author_id, client_id) DO NOTHING RETURNING id), "
            f"e AS (INSERT INTO {event} (session_id, seq, type, payload, message_id, "
            "created_at, text) SELECT l.id, l.last_seq, %(type)s, %(payload)s, i.id, "
            "%(now)s, '' FROM l, i RETURNING seq, message_id) "
            f"SELECT e.seq, e.message_id, m.display_name, m.role FROM e "
            f"JOIN {member} m ON m.id = %(member)s"
        ),
        # After "plain", in the same transaction and a fresh snapshot: fails (an invalid cast,
        # which aborts the transaction, so its commit rolls back) if the seq the lock took has
        # no log row (a resend of the same client_id committed while "plain" waited for the
        # lock) or if she is now over the flood limit (another tab posted while it waited):
        # the races "plain"'s one snapshot cannot see. `message_post` then answers, as it does
        # for every refusal. Same named parameters.
        "settle": (
            "SELECT CAST(CASE WHEN (s.last_seq > 0 AND NOT EXISTS (SELECT 1 "  # noqa: S608
            f"FROM {event} e WHERE e.session_id = s.id AND e.seq = s.last_seq)) "
            f"OR {recent_named} > %(limit)s "
            "THEN 'message.send rolled back in session ' || s.id END AS integer) "
            f"FROM {session} s WHERE s.id = %(session)s"
        ),
    }


class ResumeGate(NamedTuple):
    """Which of a `resume`'s reads can find anything (`RESUME["gate"]`)."""

    last_seq: int
    # Is there a notice of hers not dismissed (a superset of `selectors.notices_active`)?
    notices: bool
    # Is there a private message in her own thread since the session began (the member's
    # `selectors.private_replay`, a superset)?
    private: bool


@functools.cache
def resume() -> dict[str, str]:
    """The statement that saves a `resume` the reads that would find nothing (issue 20)."""
    q = connection.ops.quote_name
    session = q(Session._meta.db_table)
    event = q(SessionEvent._meta.db_table)
    notice = q(PrivateNotice._meta.db_table)
    message = q(PrivateMessage._meta.db_table)
    thread = q(PrivateThread._meta.db_table)
    return {
        # The log's end, whether she has a notice not dismissed, and whether her own thread
        # has a message since the session began (its planned start or its first event,
        # whichever came first: `selectors.began`). Each is a superset of what the read it
        # gates returns, so a `resume` that skips a read would have read nothing. Parameters:
        # session id, member id, member id, session id.
        "gate": (
            f"SELECT s.last_seq, EXISTS (SELECT 1 FROM {notice} n "  # noqa: S608
            "WHERE n.session_id = %s AND n.recipient_id = %s AND n.dismissed_at IS NULL), "
            f"EXISTS (SELECT 1 FROM {message} pm JOIN {thread} t ON t.id = pm.thread_id "
            "WHERE t.membership_id = %s AND (pm.created_at >= s.starts_at "
            f"OR pm.created_at >= (SELECT e.created_at FROM {event} e "
            "WHERE e.session_id = s.id ORDER BY e.seq LIMIT 1))) "
            f"FROM {session} s WHERE s.id = %s"
        ),
    }


class HostsGate(NamedTuple):
    """Which of a host's `session.state` reads can find anything (`hosts()["gate"]`)."""

    # A mute in force or a removal (`services.hosts.decided_for_hosts`).
    decided: bool
    # A support request not closed (`selectors.support_for_hosts`).
    support: bool
    # A check-in (`selectors.checkins_for_hosts`).
    checkins: bool


@functools.cache
def hosts() -> dict[str, str]:
    """The statement that saves a host's entry the reads that would find nothing (issue 20)."""
    q = connection.ops.quote_name
    participant = q(Participant._meta.db_table)
    support = q(SupportRequest._meta.db_table)
    checkin = q(CheckIn._meta.db_table)
    return {
        # The same conditions as the three reads it gates. Parameters: session id, now,
        # session id, session id.
        "gate": (
            f"SELECT EXISTS (SELECT 1 FROM {participant} p WHERE p.session_id = %s "  # noqa: S608
            "AND (p.muted_until > %s OR p.removed_at IS NOT NULL)), "
            f"EXISTS (SELECT 1 FROM {support} sr WHERE sr.session_id = %s "
            "AND sr.closed_at IS NULL), "
            f"EXISTS (SELECT 1 FROM {checkin} c WHERE c.session_id = %s)"
        ),
    }


@functools.cache
def log() -> dict[str, str]:
    """The read of the durable log that every `resume` makes (`log.events_replay`)."""
    q = connection.ops.quote_name
    event = q(SessionEvent._meta.db_table)
    message = q(Message._meta.db_table)
    member = q(Membership._meta.db_table)
    return {
        # The log after a seq, in order, each row with its message and the message's author,
        # all columns of each for `project.sql.model_load` (issue 20: as an ORM queryset its
        # compiling and its three models per row were most of a `resume`). Parameters:
        # session id, seq, limit.
        "replay": (
            f"SELECT {model_columns(SessionEvent, 'e')}, {model_columns(Message, 'm')}, "  # noqa: S608
            f"{model_columns(Membership, 'a')} FROM {event} e "
            f"LEFT JOIN {message} m ON m.id = e.message_id "
            f"LEFT JOIN {member} a ON a.id = m.author_id "
            "WHERE e.session_id = %s AND e.seq > %s ORDER BY e.seq LIMIT %s"
        ),
    }
