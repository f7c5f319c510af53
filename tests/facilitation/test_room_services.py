"""Room services seen from the database: rounds are audited at both ends, and a connection
joins exactly the channel groups its member may hear."""

from __future__ import annotations

import pytest

from facilitation import events, services
from project import realtime
from project.models import AuditEntry
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


def test_ending_a_round_is_audited_like_starting_one():
    room = make_room()
    host, _state = services.room_enter(
        actor=room.world.users["facilitator"], session_id=room.session.pk
    )
    services.room_enter(actor=room.world.users["member"], session_id=room.session.pk)
    services.round_start(actor=room.world.users["facilitator"], context=host, prompt="One word")

    services.round_end(actor=room.world.users["facilitator"], context=host)

    started, ended = AuditEntry.objects.filter(action__startswith="round.").order_by("id")
    assert (started.action, ended.action) == ("round.started", "round.ended")
    assert ended.actor_id == room.world.users["facilitator"].pk
    assert ended.extra == {"session_id": room.session.pk, "turns": 0}


@pytest.mark.parametrize(("persona", "hears_hosts"), [("facilitator", True), ("member", False)])
def test_a_connection_joins_the_room_her_own_groups_and_the_hosts_only_as_a_host(
    persona, hears_hosts
):
    room = make_room()
    context, _state = services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )

    with_token = services.room_channel_groups(context, token_id=7, session_key="abc")
    with_cookie = services.room_channel_groups(context, token_id=None, session_key="abc")

    session, member = room.session.pk, context.member_id
    assert with_token[:4] == [
        events.session_group(session),
        events.participant_group(session, member),
        realtime.member_group(member),
        realtime.user_group(context.user_id),
    ]
    assert (events.hosts_group(session) in with_token) is hears_hosts
    assert with_token[-1] == realtime.token_group(7)
    assert with_cookie[-1] == realtime.auth_session_group("abc")
    # One person's groups share the layer's one personal channel; the room's have their own.
    personal = [name.startswith(realtime.PERSONAL) for name in with_token]
    assert personal == [False, True, True, True, *([False] if hears_hosts else []), True]
