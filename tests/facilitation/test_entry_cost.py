"""What getting back into a room costs the database, in statements (issue 20): a restart sends
every member through these at once, so their number is guarded here (bench/querycount.py
--entry prints the same breakdown on the benchmark's data)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from facilitation import services
from facilitation.models import NoticeCode, PrivateMessage, Session, SessionEvent
from facilitation.selectors import notices_active, private_replay, session_started_at
from facilitation.services import resume as resume_services
from facilitation.services.resume import ResumeRead
from groups.authentication import user_for_token
from groups.models import ApiToken
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


def test_when_a_session_began_is_its_opening_or_its_planned_start_whichever_came_first(
    django_assert_num_queries,
):
    room = make_room()
    session = room.session
    opened = SessionEvent.objects.filter(session=session).order_by("seq").first().created_at

    Session.objects.filter(pk=session.pk).update(starts_at=opened + timedelta(hours=1))
    with django_assert_num_queries(1):
        assert session_started_at(session.pk) == opened

    Session.objects.filter(pk=session.pk).update(starts_at=opened - timedelta(hours=1))
    with django_assert_num_queries(1):
        assert session_started_at(session.pk) == opened - timedelta(hours=1)


def test_a_session_with_nothing_logged_began_when_it_was_planned():
    room = make_room(status="scheduled")
    SessionEvent.objects.filter(session=room.session).delete()

    assert session_started_at(room.session.pk) == room.session.starts_at


def test_the_private_part_of_a_resume_is_one_statement(django_assert_num_queries):
    room = make_room()

    with django_assert_num_queries(1):
        assert (
            private_replay(
                session_id=room.session.pk, member_id=room.member_id("member"), is_host=False
            )
            == []
        )


# On PostgreSQL a member whose state needs nothing more arrives in one statement with no
# transaction (`facilitation.services.entry`): BEGIN and COMMIT are only counted elsewhere.
ONE_STATEMENT_ARRIVAL = connection.vendor == "postgresql"


def test_a_member_getting_back_in_costs_the_room_two_statements(django_assert_num_queries):
    room = make_room()
    member = room.world.users["member"]
    context, _state = services.room_enter(actor=member, session_id=room.session.pk)
    services.room_leave(context=context)

    # The one read that decides (her support request, check-ins and skipped check-ins with
    # it), then her attendance row and who is here in one statement. SQLite: BEGIN, the read,
    # her attendance row, who is here, COMMIT.
    with django_assert_num_queries(2 if ONE_STATEMENT_ARRIVAL else 5):
        context, state = services.room_enter(actor=member, session_id=room.session.pk)
    assert [p["member_id"] for p in state["present"]] == [context.member_id]


def test_a_member_with_a_token_gets_back_in_with_one_statement(django_assert_num_queries):
    room = make_room()
    key = room.world.tokens["member"]
    entered = services.room_enter_with_token(key=key, session_id=room.session.pk)
    services.room_leave(context=entered.context)

    # Her token read with the room's read and her arrival, in one statement
    # (`sql.room()["enter_at_once"]`); her token's idle clock was moved on a moment ago, so it
    # is not written again. SQLite: the read, then as above.
    with django_assert_num_queries(1 if ONE_STATEMENT_ARRIVAL else 5):
        again = services.room_enter_with_token(key=key, session_id=room.session.pk)
    assert again.user.pk == room.world.users["member"].pk
    assert again.token_id == entered.token_id
    assert again.context.member_id == entered.context.member_id


def test_a_token_whose_idle_clock_is_due_gets_back_in_with_the_same_one(
    django_assert_num_queries,
):
    """After a restart every token is due (nobody used hers for a minute): the write goes in
    the same statement, not in a round trip of its own."""
    room = make_room()
    key = room.world.tokens["member"]
    entered = services.room_enter_with_token(key=key, session_id=room.session.pk)
    services.room_leave(context=entered.context)
    stale = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(pk=entered.token_id).update(last_used_at=stale)

    before = timezone.now()
    # SQLite: the read, the write on its own, then as above.
    with django_assert_num_queries(1 if ONE_STATEMENT_ARRIVAL else 6):
        again = services.room_enter_with_token(key=key, session_id=room.session.pk)
    assert again.token_id == entered.token_id
    assert ApiToken.objects.get(pk=entered.token_id).last_used_at >= before


def test_her_own_part_of_the_state_read_with_entry_is_what_the_selectors_read(
    django_assert_num_queries,
):
    room = make_room()
    member = room.world.users["member"]
    context, state = services.room_enter(actor=member, session_id=room.session.pk)
    assert state["me"]["support"] is None
    assert state["me"]["checkins"] == state["me"]["checkins_skipped"] == []
    services.checkin_set(actor=member, context=context, moment="in", mood="okay")
    services.checkin_skip(actor=member, context=context, moment="out")
    asked = services.support_request(actor=member, context=context, kind="minute")
    # Her quick exit is for the hosts only: she still reads her own request.
    services.room_leave(context=context)
    assert services.support_left(actor=member, session_id=room.session.pk) is not None

    # Not plain: BEGIN, the read, her arrival, the request she has, COMMIT (SQLite: one more,
    # as her arrival is two statements there).
    with django_assert_num_queries(5 if ONE_STATEMENT_ARRIVAL else 6):
        context, state = services.room_enter(actor=member, session_id=room.session.pk)
    _context, by_selectors = services.room_rights(context=context)

    assert state["me"]["support"]["request_id"] == asked.pk
    assert state["me"]["checkins"] == ["in"]
    assert state["me"]["checkins_skipped"] == ["out"]
    assert state["me"] == by_selectors["me"]


def test_someone_elses_answers_are_not_hers(django_assert_num_queries):
    room = make_room()
    member, other = room.world.users["member"], room.world.users["member2"]
    theirs, _state = services.room_enter(actor=other, session_id=room.session.pk)
    services.checkin_set(actor=other, context=theirs, moment="in", mood="good")
    services.checkin_skip(actor=other, context=theirs, moment="out")
    services.support_request(actor=other, context=theirs, kind="message_me")

    _context, state = services.room_enter(actor=member, session_id=room.session.pk)

    assert state["me"]["support"] is None
    assert state["me"]["checkins"] == state["me"]["checkins_skipped"] == []


def test_a_host_getting_back_in_costs_the_room_six_statements(django_assert_num_queries):
    room = make_room()
    host = room.world.users["facilitator"]
    context, _state = services.room_enter(actor=host, session_id=room.session.pk)
    services.room_leave(context=context)

    # The one read that decides, BEGIN, her arrival (her attendance row and who is here: two
    # statements on SQLite), which of the hosts' reads can find anything (nothing here: no
    # mute, removal, open request or check-in), COMMIT.
    with django_assert_num_queries(5 if ONE_STATEMENT_ARRIVAL else 6):
        context, state = services.room_enter(actor=host, session_id=room.session.pk)
    assert state["removed"] == state["support"] == state["checkins"] == []
    # With a mute, an open request and a check-in, each of the three reads runs and finds it.
    member, other = room.world.users["member"], room.world.users["member2"]
    hers, _state = services.room_enter(actor=member, session_id=room.session.pk)
    theirs, _state = services.room_enter(actor=other, session_id=room.session.pk)
    services.checkin_set(actor=other, context=theirs, moment="in", mood="good")
    services.support_request(actor=other, context=theirs, kind="message_me")
    services.member_mute(
        actor=host, context=context, member_id=hers.member_id, minutes=5, reason="a pause"
    )
    services.room_leave(context=context)
    with django_assert_num_queries(8 if ONE_STATEMENT_ARRIVAL else 9):
        context, state = services.room_enter(actor=host, session_id=room.session.pk)
    assert [c["member_id"] for c in state["checkins"]] == [theirs.member_id]
    assert [s["member_id"] for s in state["support"]] == [theirs.member_id]
    muted = {p["member_id"]: p["muted_until"] for p in state["present"]}
    assert muted[hers.member_id] is not None and muted[theirs.member_id] is None
    assert state["me"]["is_host"] is True


def test_a_resume_reads_only_what_can_find_something(django_assert_num_queries):
    room = make_room()
    member, other = room.world.users["member"], room.world.users["member2"]
    context, state = services.room_enter(actor=member, session_id=room.session.pk)
    theirs, _state = services.room_enter(actor=other, session_id=room.session.pk)
    sent = [
        services.message_post(
            actor=other,
            context=theirs,
            body=f"hello {n}",
            content_warning=None,
            client_id=str(uuid.uuid4()),
        )[0]["seq"]
        for n in range(3)
    ]

    def resume(after: int) -> ResumeRead:
        return services.resume_read(
            context=context,
            after_seq=after,
            history_after=context.history_after,
        )

    # Issue 20: the gate alone when she missed nothing and has no notice and no private
    # message; the log too when she missed something, or when what she may not read must come
    # back as its marker.
    with django_assert_num_queries(1):
        assert resume(sent[-1]) == ResumeRead(events=[], notices=[], private=[])
    with django_assert_num_queries(2):
        missed = resume(state["last_seq"])
    assert [(e["type"], e["seq"]) for e in missed.events] == [("message", seq) for seq in sent]
    with django_assert_num_queries(2):
        everything = resume(0)
    assert everything.events[0] == {"type": "history.hidden", "seq": context.history_after}
    assert everything.events[-3:] == missed.events

    # A notice and a private message of hers: each read runs again and finds it.
    session = Session.objects.get(pk=room.session.pk)
    facilitator = room.world.members["facilitator"]
    services.notice_send(
        session=session, recipient_id=context.member_id, code=NoticeCode.MUTED, by=facilitator
    )
    services.private_send(actor=member, context=context, client_id=str(uuid.uuid4()), body="hi")
    end = Session.objects.get(pk=room.session.pk).last_seq
    with django_assert_num_queries(3):
        found = resume(end)
    assert [n["code"] for n in found.notices] == [NoticeCode.MUTED]
    assert [m["body"] for m in found.private] == ["hi"]


def test_the_resume_gate_is_a_superset_of_the_reads_it_gates():
    room = make_room()
    member = room.world.users["member"]
    context, _state = services.room_enter(actor=member, session_id=room.session.pk)
    session = Session.objects.get(pk=room.session.pk)
    end = session.last_seq
    # A mute notice that ran out: the gate lets the read pass, the read's own rule drops it.
    services.notice_send(
        session=session,
        recipient_id=context.member_id,
        code=NoticeCode.MUTED,
        by=room.world.members["facilitator"],
        until=timezone.now() - timedelta(minutes=1),
    )
    read = services.resume_read(context=context, after_seq=end, history_after=0)
    assert read.notices == notices_active(session_id=session.pk, member_id=context.member_id)
    assert read.notices == []
    # A private message from before the session began is not this session's: the gate and
    # the read agree on "since the session began" (`selectors.began`).
    message = services.private_send(
        actor=member, context=context, client_id=str(uuid.uuid4()), body="earlier"
    )
    PrivateMessage.objects.filter(pk=message.pk).update(
        created_at=session_started_at(session.pk) - timedelta(days=1)
    )
    read = services.resume_read(context=context, after_seq=end, history_after=0)
    assert (
        read.private
        == []
        == private_replay(session_id=session.pk, member_id=context.member_id, is_host=False)
    )
    # A host always reads the threads of the session's members.
    host = room.world.users["facilitator"]
    hosting, _state = services.room_enter(actor=host, session_id=session.pk)
    services.private_send(actor=member, context=context, client_id=str(uuid.uuid4()), body="now")
    read = services.resume_read(context=hosting, after_seq=end, history_after=0)
    assert [m["body"] for m in read.private] == ["now"]


def test_a_long_resume_reads_the_log_in_pages_and_misses_nothing(monkeypatch):
    room = make_room()
    member = room.world.users["member"]
    context, state = services.room_enter(actor=member, session_id=room.session.pk)
    sent = [
        services.message_post(
            actor=member,
            context=context,
            body=f"hello {n}",
            content_warning=None,
            client_id=str(uuid.uuid4()),
        )[0]["seq"]
        for n in range(5)
    ]
    monkeypatch.setattr(resume_services, "REPLAY_LIMIT", 2)

    read = services.resume_read(
        context=context,
        after_seq=state["last_seq"],
        history_after=context.history_after,
    )

    assert [event["seq"] for event in read.events] == sent


def test_a_token_used_within_the_minute_signs_in_with_one_statement(django_assert_num_queries):
    room = make_room()
    token = room.world.tokens["member"]
    assert user_for_token(token) is not None

    with django_assert_num_queries(1):
        assert user_for_token(token) is not None


def test_the_plain_sql_log_replay_reads_what_the_orm_reads():
    """Issue 20: `log.events_replay` reads the log in plain SQL (`project.sql.model_load`);
    what it rebuilds is what the ORM's `select_related("message__author")` rebuilt: a hidden
    message stays hidden, a message whose author left keeps no name, other events keep their
    encrypted text, each read as this reader may."""
    from facilitation import events
    from facilitation.log import _replayed, events_replay
    from groups.models import Membership

    room = make_room()
    member, other = room.world.users["member"], room.world.users["member2"]
    context, _entered = services.room_enter(actor=member, session_id=room.session.pk)
    theirs, _state = services.room_enter(actor=other, session_id=room.session.pk)
    host = room.world.users["facilitator"]
    hosting, _state = services.room_enter(actor=host, session_id=room.session.pk)
    posted = [
        services.message_post(
            actor=sender,
            context=ctx,
            body=f"words {n}",
            content_warning=None,
            client_id=str(uuid.uuid4()),
        )[0]
        for n, (sender, ctx) in enumerate([(member, context), (other, theirs), (other, theirs)])
    ]
    services.message_hide(
        actor=host, context=hosting, message_id=posted[1]["message_id"], reason="not kind"
    )
    services.presence_set(actor=member, context=context, status="stepped_out")
    # Her author row gone from the message (as after an erasure: SET_NULL).
    from facilitation.models import Message

    Message.objects.filter(pk=posted[2]["message_id"]).update(author=None)
    assert Membership.objects.filter(pk=theirs.member_id).exists()

    for reader in (context.reader, hosting.reader, events.NOBODY):
        orm = [
            events.as_read_by(_replayed(row), reader)
            for row in SessionEvent.objects.filter(session_id=room.session.pk, seq__gt=0)
            .select_related("message__author")
            .order_by("seq")
        ]
        plain = events_replay(session_id=room.session.pk, after_seq=0, reader=reader)
        assert plain == orm
        assert len(plain) >= 5
        texts = json.dumps(plain)
        assert "words 0" in texts and "words 1" not in texts


def test_open_attendance_has_one_partial_index_so_entry_never_scans_a_whole_one():
    """Entry counts her open connections (`sql.room()["enter"]`) through `attendance_open`
    (session, member). A second partial index on the same open rows (on `process`, issue 20)
    looked just as cheap to PostgreSQL's planner after a VACUUM taken with no one connected,
    and it then scanned that whole index, every open connection of the process, for every
    entry: 0.64 of the statement's 0.83 ms with 2,000 open (docs/performance.md)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = 'facilitation_attendance' AND indexdef LIKE '%%WHERE%%'"
        )
    else:
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'facilitation_attendance' AND sql LIKE '%%WHERE%%'"
        )
    with connection.cursor() as cursor:
        cursor.execute(query)
        partial = sorted(row[0] for row in cursor.fetchall())

    assert partial == ["attendance_open"]
