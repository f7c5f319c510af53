"""Room entry with a bearer token reads the token with the room (issue 20): the one read
must refuse exactly what `token_authenticate` refuses, and her arrival (one statement on
PostgreSQL) must answer what the selectors read apart."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from facilitation import services
from facilitation.models import Attendance, Participant, Session, SessionStatus
from facilitation.selectors import room_present
from facilitation.services import RoomRefused
from groups.models import ApiToken
from groups.services import token_hash
from project import closecodes
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


def _refusal(key: str, session_id: object) -> int:
    with pytest.raises(RoomRefused) as refused:
        services.room_enter_with_token(key=key, session_id=session_id)
    return refused.value.code


def test_the_token_decides_before_the_room():
    room = make_room()
    good = room.world.tokens["member"]

    assert _refusal("not-a-token", room.session.pk) == closecodes.NOT_SIGNED_IN
    assert _refusal("not-a-token", "not-a-number") == closecodes.NOT_SIGNED_IN
    assert _refusal("not-a-token", room.session.pk + 1000) == closecodes.NOT_SIGNED_IN
    assert _refusal(good, "not-a-number") == closecodes.NO_SESSION
    assert _refusal(good, room.session.pk + 1000) == closecodes.NO_SESSION
    assert _refusal(room.world.tokens["deactivated"], room.session.pk) == (closecodes.NOT_SIGNED_IN)
    assert _refusal(room.world.tokens["outsider"], room.session.pk) == closecodes.NO_SESSION
    assert not Attendance.objects.filter(session=room.session).exists()


def test_an_expired_or_revoked_token_never_enters():
    room = make_room()
    key = room.world.tokens["member"]
    token = ApiToken.objects.get(key_hash=token_hash(key))
    long_ago = timezone.now() - timedelta(days=400)

    ApiToken.objects.filter(pk=token.pk).update(created_at=long_ago)
    assert _refusal(key, room.session.pk) == closecodes.NOT_SIGNED_IN
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now(), last_used_at=long_ago)
    assert _refusal(key, room.session.pk) == closecodes.NOT_SIGNED_IN
    ApiToken.objects.filter(pk=token.pk).delete()
    assert _refusal(key, room.session.pk) == closecodes.NOT_SIGNED_IN
    assert not Attendance.objects.filter(session=room.session).exists()


def _idle(key: str) -> datetime:
    """Her token last used half an hour ago: its idle clock is due a write."""
    stale = timezone.now() - timedelta(minutes=30)
    assert ApiToken.objects.filter(key_hash=token_hash(key)).update(last_used_at=stale) == 1
    return stale


def _moved_on(key: str, stale: datetime) -> bool:
    return ApiToken.objects.get(key_hash=token_hash(key)).last_used_at > stale + timedelta(
        minutes=29
    )


@pytest.mark.parametrize("persona", ["member", "facilitator"])
def test_a_token_idle_for_a_while_has_its_clock_moved_on(persona):
    """A member's arrival writes it (on PostgreSQL in her arrival's own statement), on her
    first entry (her participant row is new) and after; a host's, in its transaction."""
    room = make_room()
    key = room.world.tokens[persona]
    for _entry in range(2):
        stale = _idle(key)

        entered = services.room_enter_with_token(key=key, session_id=room.session.pk)

        assert _moved_on(key, stale)
        assert entered.context.is_host is (persona == "facilitator")
        services.room_leave(context=entered.context)


def test_a_refused_entry_still_moves_a_good_tokens_clock_and_writes_nothing_else():
    """As any other use of the token would (`token_authenticate`)."""
    room = make_room()
    key = room.world.tokens["member"]

    stale = _idle(key)
    assert _refusal(key, room.session.pk + 1000) == closecodes.NO_SESSION
    assert _moved_on(key, stale)
    stale = _idle(key)
    Session.objects.filter(pk=room.session.pk).update(status=SessionStatus.ENDED)
    assert _refusal(key, room.session.pk) == closecodes.NOT_OPEN
    assert _moved_on(key, stale)
    assert not Attendance.objects.filter(session=room.session).exists()
    assert not Participant.objects.filter(session=room.session).exists()


def test_who_is_present_on_entry_is_what_the_room_reads_after_it():
    room = make_room()
    world = room.world
    first = services.room_enter_with_token(key=world.tokens["member"], session_id=room.session.pk)
    other = services.room_enter_with_token(key=world.tokens["member2"], session_id=room.session.pk)
    # Her second tab: she is listed once, where she first came in.
    again = services.room_enter_with_token(key=world.tokens["member"], session_id=room.session.pk)

    members = [first.context.member_id, other.context.member_id]
    assert [p["member_id"] for p in other.state["present"]] == members
    assert [p["member_id"] for p in again.state["present"]] == members
    assert again.state["present"] == room_present(session_id=room.session.pk)
    assert again.context.attendance_id not in (
        first.context.attendance_id,
        other.context.attendance_id,
    )
    assert Attendance.objects.filter(session=room.session, left_at__isnull=True).count() == 3


def test_her_first_entry_fixes_where_her_reading_starts_as_before():
    room = make_room()
    world = room.world
    entered = services.room_enter_with_token(key=world.tokens["member"], session_id=room.session.pk)
    participant = room.session.participants.get(membership_id=entered.context.member_id)

    assert participant.first_seq == room.session.last_seq == entered.context.history_after
    assert entered.state["me"]["member_id"] == entered.context.member_id
