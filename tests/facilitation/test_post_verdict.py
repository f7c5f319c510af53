"""One accept rule for a post (`post_verdict`), whichever path asks: the threaded
`message_post`, the event-loop `message_post_fast` (PostgreSQL) and a connection's own flood
pre-check (`RecentPosts`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from facilitation import services
from facilitation.models import Message, Participant
from facilitation.services import RATE_LIMIT_MESSAGES, RATE_LIMIT_WINDOW, Verdict, post_verdict
from groups.models import Membership, MembershipStatus
from project.exceptions import ApplicationError, Forbidden
from tests.facilitation.room import Room, make_room

ON_POSTGRES = connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("inputs", "verdict"),
    [
        ({"in_session": True, "resend": False, "muted": False, "recent": 0}, Verdict.ACCEPT),
        (
            {
                "in_session": True,
                "resend": False,
                "muted": False,
                "recent": RATE_LIMIT_MESSAGES - 1,
            },
            Verdict.ACCEPT,
        ),
        (
            {"in_session": True, "resend": False, "muted": False, "recent": RATE_LIMIT_MESSAGES},
            Verdict.RATE_LIMITED,
        ),
        ({"in_session": True, "resend": False, "muted": True, "recent": 0}, Verdict.MUTED),
        # A resend gets its first answer again, even when muted or over the limit since.
        (
            {"in_session": True, "resend": True, "muted": True, "recent": RATE_LIMIT_MESSAGES},
            Verdict.RESEND,
        ),
        # Someone no longer in the session is told so before anything else.
        ({"in_session": False, "resend": True, "muted": True, "recent": 99}, Verdict.GONE),
    ],
)
def test_the_accept_rule_decides_in_one_order(inputs, verdict):
    assert post_verdict(**inputs) is verdict


def test_a_connection_refuses_its_own_flood_with_the_same_rule():
    recent = services.RecentPosts()
    start = timezone.now()
    sent = [str(uuid.uuid4()) for _ in range(RATE_LIMIT_MESSAGES)]
    for index, client_id in enumerate(sent):
        recent.refuse_flood(client_id, start)
        recent.record(start + timedelta(milliseconds=index), client_id)

    with pytest.raises(ApplicationError) as refused:
        recent.refuse_flood(str(uuid.uuid4()), start + timedelta(seconds=1))
    recent.refuse_flood(sent[3], start + timedelta(seconds=1))  # a resend still goes through
    recent.refuse_flood(str(uuid.uuid4()), start + RATE_LIMIT_WINDOW + timedelta(seconds=1))

    assert refused.value.code == "rate_limited"


def enter(room: Room, persona: str = "member") -> services.RoomContext:
    context, _state = services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )
    return context


def arrange(room: Room, context: services.RoomContext, case: str) -> str:
    """Put the member in `case`; returns the client_id the next post will use."""
    rows = Participant.objects.filter(session=room.session, membership_id=context.member_id)
    client_id = str(uuid.uuid4())
    if case == "muted":
        rows.update(muted_until=timezone.now() + timedelta(minutes=5))
    elif case == "removed":
        rows.update(removed_at=timezone.now())
    elif case == "left_the_group":
        Membership.objects.filter(pk=context.member_id).update(status=MembershipStatus.LEFT)
    elif case in {"resend", "over_the_limit"}:
        count = 1 if case == "resend" else RATE_LIMIT_MESSAGES
        for _ in range(count):
            client_id = str(uuid.uuid4())
            services.message_post(
                actor=room.world.users["member"],
                context=context,
                body="earlier",
                content_warning=None,
                client_id=client_id,
            )
        if case == "over_the_limit":
            client_id = str(uuid.uuid4())
    return client_id


CASES = {
    "plain": Verdict.ACCEPT,
    "resend": Verdict.RESEND,
    "muted": Verdict.MUTED,
    "over_the_limit": Verdict.RATE_LIMITED,
    "removed": Verdict.GONE,
    "left_the_group": Verdict.GONE,
}


def threaded_outcome(room: Room, context: services.RoomContext, client_id: str) -> Verdict:
    try:
        _event, created = services.message_post(
            actor=room.world.users["member"],
            context=context,
            body="now",
            content_warning=None,
            client_id=client_id,
        )
    except Forbidden:
        return Verdict.GONE
    except ApplicationError as refused:
        return {"muted": Verdict.MUTED, "rate_limited": Verdict.RATE_LIMITED}[refused.code]
    return Verdict.ACCEPT if created else Verdict.RESEND


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(CASES))
def test_the_threaded_path_answers_as_the_rule_decides(case):
    room = make_room()
    context = enter(room)
    client_id = arrange(room, context, case)
    stored = Message.objects.filter(session=room.session).count()

    outcome = threaded_outcome(room, context, client_id)

    assert outcome is CASES[case]
    written = Message.objects.filter(session=room.session).count() - stored
    assert written == (1 if outcome is Verdict.ACCEPT else 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not ON_POSTGRES, reason="the event-loop path is PostgreSQL's")
@pytest.mark.parametrize("case", list(CASES))
async def test_the_event_loop_path_writes_exactly_what_the_rule_accepts(case: str) -> None:
    room = await database_sync_to_async(make_room)()
    context = await database_sync_to_async(enter)(room)
    client_id = await database_sync_to_async(arrange)(room, context, case)

    posted: Any = await services.message_post_fast(
        context=context, body="now", content_warning=None, client_id=client_id
    )

    assert (posted is not None) == (CASES[case] is Verdict.ACCEPT)


@pytest.mark.django_db(transaction=True)
async def test_message_send_acks_through_whichever_path_fits_and_refuses_a_flood() -> None:
    room = await database_sync_to_async(make_room)()
    context = await database_sync_to_async(enter)(room)
    recent = services.RecentPosts()
    user = room.world.users["member"]

    async def send(client_id: str) -> dict[str, Any]:
        outbox: list[Any] = []
        event = await services.message_send(
            actor=user,
            context=context,
            recent=recent,
            outbox=outbox,
            body="hello",
            content_warning=None,
            client_id=client_id,
        )
        assert [group for group, _message in outbox] == [f"session.{room.session.pk}"]
        return event

    events = [await send(str(uuid.uuid4())) for _ in range(RATE_LIMIT_MESSAGES)]
    with pytest.raises(ApplicationError) as refused:
        await send(str(uuid.uuid4()))

    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert refused.value.code == "rate_limited"
    assert len(recent.sent) == RATE_LIMIT_MESSAGES
    count = await database_sync_to_async(Message.objects.filter(session=room.session).count)()
    assert count == RATE_LIMIT_MESSAGES
