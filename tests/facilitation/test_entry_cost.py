"""What getting back into a room costs the database, in statements (issue 20): a restart sends
every member through these at once, so their number is guarded here (bench/querycount.py
--entry prints the same breakdown on the benchmark's data)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from facilitation import services
from facilitation.models import Session, SessionEvent
from facilitation.selectors import private_replay, session_started_at
from groups.authentication import user_for_token
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


def test_a_member_getting_back_in_costs_the_room_eight_statements(django_assert_num_queries):
    room = make_room()
    member = room.world.users["member"]
    context, _state = services.room_enter(actor=member, session_id=room.session.pk)
    services.room_leave(context=context)

    # BEGIN, the one read that decides, her attendance row, who is here, her support request
    # and her check-ins and skipped check-ins (session.state), COMMIT.
    with django_assert_num_queries(8):
        context, _state = services.room_enter(actor=member, session_id=room.session.pk)


def test_a_token_used_within_the_minute_signs_in_with_one_statement(django_assert_num_queries):
    room = make_room()
    token = room.world.tokens["member"]
    assert user_for_token(token) is not None

    with django_assert_num_queries(1):
        assert user_for_token(token) is not None
