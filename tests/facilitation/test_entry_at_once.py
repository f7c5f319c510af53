"""Room entry with a bearer token in one statement (issue 20, PostgreSQL): the statement's own
verdict (`facilitation.sql.FAST`) lets an arrival through only where the rule
(`services.entry`: `_decide`, `_plain`) would, and arrives her exactly as the two-statement
way does. Every case of the rule is tried here both ways: through the token (the statement)
and through `room_enter`, which never uses it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from facilitation import services
from facilitation.agreements import OPENED_EVENT
from facilitation.models import Attendance, Participant, SessionStatus
from facilitation.services import RoomRefused
from facilitation.services import entry as entry_services
from facilitation.services.context import RoomContext
from facilitation.services.room import SOCKETS_PER_MEMBER
from groups import services as group_services
from groups.models import OrgRole, User
from project import closecodes
from tests.facilitation.room import Room, make_room

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the one-statement entry is PostgreSQL's"
    ),
]

UNDONE = "the plain arrival's SQL admitted what the rule did not"


def _host(room: Room) -> tuple[User, RoomContext]:
    host = room.world.users["facilitator"]
    context, _state = services.room_enter(actor=host, session_id=room.session.pk)
    return host, context


def _plain(room: Room) -> None:
    """Nothing in the way: an ordinary member, back in."""


def _first_seq_missing(room: Room) -> None:
    """A host muted her before she ever came and lifted it: her row has no first seq yet."""
    host, context = _host(room)
    member_id = room.member_id("member")
    services.member_mute(actor=host, context=context, member_id=member_id, minutes=5, reason="x")
    services.member_unmute(actor=host, context=context, member_id=member_id)
    assert Participant.objects.get(session=room.session, membership_id=member_id).first_seq is None


def _muted(room: Room) -> None:
    host, context = _host(room)
    services.member_mute(
        actor=host, context=context, member_id=room.member_id("member"), minutes=5, reason="x"
    )


def _removed(room: Room) -> None:
    host, context = _host(room)
    services.member_remove_from_session(
        actor=host, context=context, member_id=room.member_id("member"), reason="x"
    )


def _round_open(room: Room) -> None:
    host, context = _host(room)
    services.room_enter(actor=room.world.users["member2"], session_id=room.session.pk)
    services.round_start(actor=host, context=context, prompt="One word for today")


def _asked_for_support(room: Room) -> None:
    member = room.world.users["member"]
    context, _state = services.room_enter(actor=member, session_id=room.session.pk)
    services.support_request(actor=member, context=context, kind="minute")
    services.room_leave(context=context)


def _status(status: str) -> Callable[[Room], None]:
    def change(room: Room) -> None:
        type(room.session).objects.filter(pk=room.session.pk).update(status=status)

    return change


def _agreement_changed(room: Room) -> None:
    """A new version she has not accepted, published before the session opened."""
    group_services.agreement_publish(
        actor=room.world.users["facilitator"], group=room.world.group_a, points=["New"]
    )
    later = timezone.now() + timedelta(seconds=1)
    room.session.events.filter(type=OPENED_EVENT).update(created_at=later)


def _too_many(room: Room) -> None:
    for _tab in range(SOCKETS_PER_MEMBER):
        services.room_enter(actor=room.world.users["member"], session_id=room.session.pk)


def _org_role(room: Room) -> None:
    User.objects.filter(pk=room.world.users["member"].pk).update(org_role=OrgRole.FACILITATOR)


def _removed_from_the_group(room: Room) -> None:
    group_services.member_remove(
        actor=room.world.users["facilitator"],
        group=room.world.group_a,
        member_id=room.member_id("member"),
    )


def _not_co_host(room: Room) -> None:
    room.session.co_hosts.clear()


# persona, what happens first, then: the refusal (None: she enters), and whether the one
# statement arrives her (else the rule's two-statement way does, or refuses).
CASES = {
    "plain": ("member", _plain, None, True),
    "plain, second tab": ("member", _plain, None, True),
    "first seq missing": ("member", _first_seq_missing, None, True),
    "muted": ("member", _muted, None, False),
    "removed": ("member", _removed, closecodes.FORBIDDEN, False),
    "round open": ("member", _round_open, None, False),
    "asked for support": ("member", _asked_for_support, None, False),
    "paused": ("member", _status(SessionStatus.PAUSED), None, True),
    "open": ("member", _status(SessionStatus.OPEN), None, True),
    "scheduled": ("member", _status(SessionStatus.SCHEDULED), closecodes.NOT_OPEN, False),
    "ended": ("member", _status(SessionStatus.ENDED), closecodes.NOT_OPEN, False),
    "agreement not accepted": ("member", _agreement_changed, closecodes.AGREEMENT, False),
    "too many connections": ("member", _too_many, closecodes.TOO_MANY, False),
    "an org role": ("member", _org_role, None, False),
    "removed from the group": ("member", _removed_from_the_group, closecodes.FORBIDDEN, False),
    "peer mentor, co-host": ("peer_mentor", _plain, None, False),
    "peer mentor, not co-host": ("peer_mentor", _not_co_host, None, False),
    "facilitator": ("facilitator", _plain, None, False),
    "outsider": ("outsider", _plain, closecodes.NO_SESSION, False),
    "deactivated": ("deactivated", _plain, closecodes.NOT_SIGNED_IN, False),
}


def _outcome(enter: Callable[[], object]) -> tuple[int | None, object]:
    try:
        return None, enter()
    except RoomRefused as refused:
        return refused.code, None


@pytest.mark.parametrize("case", list(CASES))
def test_the_statement_arrives_her_only_where_the_rule_would(
    case, django_assert_max_num_queries, caplog
):
    persona, before, refusal, at_once = CASES[case]
    room = make_room()
    before(room)
    key = room.world.tokens[persona]
    user = room.world.users[persona]
    if case == "plain, second tab":
        services.room_enter_with_token(key=key, session_id=room.session.pk)
    open_before = Attendance.objects.filter(left_at__isnull=True).count()

    caplog.set_level(logging.ERROR, logger=entry_services.__name__)
    with django_assert_max_num_queries(1 if at_once else 99) as queries:
        code, entered = _outcome(
            lambda: services.room_enter_with_token(key=key, session_id=room.session.pk)
        )

    assert UNDONE not in caplog.text
    assert code == refusal
    # An arrival the statement left to the rule takes more than the one.
    if at_once:
        assert len(queries) == 1
    elif refusal is None:
        assert len(queries) > 1
    opened = Attendance.objects.filter(left_at__isnull=True).count() - open_before
    assert opened == (0 if refusal is not None else 1)
    if entered is None:
        return
    # The rule's own way, on the same room, answers the same.
    services.room_leave(context=entered.context)
    context, state = services.room_enter(actor=user, session_id=room.session.pk)
    assert replace(context, attendance_id=0) == replace(entered.context, attendance_id=0)
    assert entered.state == state
    participant = Participant.objects.get(session=room.session, membership_id=context.member_id)
    assert participant.first_seq is not None


def test_should_the_statement_ever_admit_what_the_rule_refuses_her_arrival_is_undone(
    monkeypatch, caplog
):
    room = make_room()
    key = room.world.tokens["member"]

    def refuse(*_args, **_kwargs):
        raise RoomRefused(closecodes.FORBIDDEN)

    monkeypatch.setattr(entry_services, "_admit", refuse)
    with pytest.raises(RoomRefused) as refused:
        services.room_enter_with_token(key=key, session_id=room.session.pk)

    assert refused.value.code == closecodes.FORBIDDEN
    assert UNDONE in caplog.text
    assert not Attendance.objects.filter(session=room.session, left_at__isnull=True).exists()


def test_should_the_rule_find_her_not_plain_she_enters_the_rules_way(monkeypatch, caplog):
    room = make_room()
    key = room.world.tokens["member"]
    monkeypatch.setattr(entry_services, "_plain", lambda *_args: False)

    entered = services.room_enter_with_token(key=key, session_id=room.session.pk)

    assert UNDONE in caplog.text
    open_rows = Attendance.objects.filter(session=room.session, left_at__isnull=True)
    assert list(open_rows.values_list("pk", flat=True)) == [entered.context.attendance_id]
    assert [p["member_id"] for p in entered.state["present"]] == [entered.context.member_id]
