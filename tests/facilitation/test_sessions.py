"""Sessions over REST and through the services: creating, reading, the status machine,
the durable status log, and attendance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from facilitation import services
from facilitation.models import Attendance, Session, SessionEvent
from facilitation.services import TRANSITIONS
from groups import services as group_services
from groups.models import GroupRole
from project.exceptions import Forbidden
from project.models import AuditEntry
from tests.conftest import World, join
from tests.facilitation.room import make_room

STATUSES = ["scheduled", "open", "live", "paused", "ended"]
# The route to each status from `scheduled`, through allowed moves only.
ROUTE = {
    "scheduled": [],
    "open": ["open"],
    "live": ["open", "live"],
    "paused": ["open", "live", "paused"],
    "ended": ["open", "ended"],
}
# PROTOCOL.md: scheduled -> open -> live <-> paused -> ended; a session may also be ended
# early from open, or straight from live.
ALLOWED = {
    ("scheduled", "open"),
    ("open", "live"),
    ("open", "ended"),
    ("live", "paused"),
    ("live", "ended"),
    ("paused", "live"),
    ("paused", "ended"),
}
REFUSED = [(src, dst) for src in STATUSES for dst in STATUSES if (src, dst) not in ALLOWED]


def sessions_url(world: World) -> str:
    return f"/api/v1/groups/{world.group_a.pk}/sessions/"


def session_url(session: Session | int, suffix: str = "") -> str:
    pk = session.pk if isinstance(session, Session) else session
    return f"/api/v1/sessions/{pk}/{suffix}"


def payload(world: World, **overrides: Any) -> dict[str, Any]:
    start = timezone.now() + timedelta(days=1)
    body: dict[str, Any] = {
        "title": "Tuesday circle",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "kind": "drop_in",
        "content_warnings": ["substance_use", "police_courts"],
        "co_hosts": [world.members["peer_mentor"].pk],
    }
    body.update(overrides)
    return body


def make_session(world: World, *, co_hosts: list[int] | None = None) -> Session:
    start = timezone.now() + timedelta(days=1)
    return services.session_create(
        actor=world.user("facilitator"),
        group=world.group_a,
        title="Tuesday circle",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        kind="booked",
        co_hosts=[world.members["peer_mentor"].pk] if co_hosts is None else co_hosts,
    )


def publish_agreement(world: World) -> None:
    group_services.agreement_publish(
        actor=world.user("facilitator"), group=world.group_a, points=["Be kind."]
    )


def move(world: World, session: Session, *statuses: str) -> Session:
    for status in statuses:
        session = services.session_set_status(
            actor=world.user("facilitator"), session=session, status=status
        )
    return session


def seqs(session: Session) -> list[int]:
    return list(SessionEvent.objects.filter(session=session).values_list("seq", flat=True))


# --- creating --------------------------------------------------------------------------------


def test_a_facilitator_creates_a_scheduled_session_with_warnings_and_a_co_host(world):
    response = world.client("facilitator").post(sessions_url(world), payload(world), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["kind"] == "drop_in"
    assert body["title"] == "Tuesday circle"
    assert body["group_id"] == world.group_a.pk
    assert body["content_warnings"] == ["substance_use", "police_courts"]
    assert body["co_hosts"] == [world.members["peer_mentor"].pk]
    session = Session.objects.get(pk=body["id"])
    assert list(session.co_hosts.all()) == [world.members["peer_mentor"]]
    assert session.last_seq == 0


@pytest.mark.parametrize(
    "co_host",
    ["member", "outsider", "facilitator", "nobody"],
    ids=["a-plain-member", "a-member-of-another-group", "a-facilitator", "a-missing-id"],
)
def test_a_co_host_who_is_not_a_peer_mentor_of_the_group_is_refused(world, co_host):
    member_id = 999_999 if co_host == "nobody" else world.members[co_host].pk
    before = Session.objects.count()

    response = world.client("facilitator").post(
        sessions_url(world), payload(world, co_hosts=[member_id]), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "co_hosts" in response.json()["extra"]["fields"]
    assert Session.objects.count() == before


def test_a_peer_mentor_of_another_group_cannot_co_host(world):
    mentor_b = join(
        world.group_b,
        by=world.user("other_facilitator"),
        username="mentor-b",
        display_name="Bo",
        role=GroupRole.PEER_MENTOR,
    )

    response = world.client("facilitator").post(
        sessions_url(world), payload(world, co_hosts=[mentor_b.pk]), format="json"
    )

    assert response.status_code == 400
    assert Session.objects.count() == 0


@pytest.mark.parametrize(
    ("length", "field"),
    [(timedelta(hours=-1), "ends_at"), (timedelta(0), "ends_at"), (timedelta(hours=13), "ends_at")],
    ids=["ends-before-it-starts", "ends-as-it-starts", "lasts-13-hours"],
)
def test_a_session_with_impossible_times_is_refused(world, length, field):
    start = timezone.now() + timedelta(days=1)

    response = world.client("facilitator").post(
        sessions_url(world),
        payload(world, starts_at=start.isoformat(), ends_at=(start + length).isoformat()),
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["extra"]["fields"]
    assert Session.objects.count() == 0


def test_a_session_of_exactly_12_hours_is_allowed(world):
    start = timezone.now() + timedelta(days=1)

    response = world.client("facilitator").post(
        sessions_url(world),
        payload(
            world,
            starts_at=start.isoformat(),
            ends_at=(start + timedelta(hours=12)).isoformat(),
        ),
        format="json",
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body_change",
    [
        {"content_warnings": ["spiders"]},
        {"content_warnings": "substance_use"},
        {"kind": "party"},
        {"title": ""},
        {"title": "t" * 121},
        {"co_hosts": "all"},
    ],
    ids=[
        "unknown-warning",
        "warnings-not-a-list",
        "unknown-kind",
        "no-title",
        "long-title",
        "hosts",
    ],
)
def test_a_session_with_bad_fields_is_refused_and_not_written(world, body_change):
    response = world.client("facilitator").post(
        sessions_url(world), payload(world, **body_change), format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    (field,) = body_change
    assert any(key.split(".")[0] == field for key in body["extra"]["fields"]), body
    assert Session.objects.count() == 0


@pytest.mark.parametrize("persona", ["member", "peer_mentor"])
def test_a_member_or_peer_mentor_may_not_create_a_session(world, persona):
    response = world.client(persona).post(sessions_url(world), payload(world), format="json")

    assert response.status_code == 403
    assert Session.objects.count() == 0


# --- reading ---------------------------------------------------------------------------------


def test_a_member_lists_and_reads_the_sessions_of_her_group(world):
    session = make_session(world)
    client = world.client("member")

    listed = client.get(sessions_url(world))
    read = client.get(session_url(session))

    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert [row["id"] for row in listed.json()["results"]] == [session.pk]
    assert read.status_code == 200
    body = read.json()
    assert body["id"] == session.pk
    assert body["status"] == "scheduled"
    assert body["co_hosts"] == [world.members["peer_mentor"].pk]
    assert {"group_id", "title", "starts_at", "ends_at", "kind", "content_warnings"} <= set(body)


@pytest.mark.parametrize("persona", ["outsider", "other_facilitator"])
def test_someone_outside_the_group_gets_404_for_its_sessions(world, persona):
    session = make_session(world)
    client = world.client(persona)

    answers = [
        client.get(sessions_url(world)),
        client.post(sessions_url(world), payload(world), format="json"),
        client.get(session_url(session)),
        client.patch(session_url(session), {"title": "Mine now"}, format="json"),
        client.patch(session_url(session), {"status": "open"}, format="json"),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert {a.json()["code"] for a in answers} == {"not_found"}
    session.refresh_from_db()
    assert (session.title, session.status) == ("Tuesday circle", "scheduled")


def test_an_unknown_session_id_is_404(world):
    assert world.client("facilitator").get(session_url(987_654)).status_code == 404


@pytest.mark.parametrize(
    "body", [{"title": "Renamed"}, {"status": "open"}], ids=["title", "status"]
)
def test_a_member_may_not_change_a_session(world, body):
    publish_agreement(world)
    session = make_session(world)

    response = world.client("member").patch(session_url(session), body, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    session.refresh_from_db()
    assert (session.title, session.status) == ("Tuesday circle", "scheduled")


def test_a_facilitator_renames_a_session(world):
    session = make_session(world)

    response = world.client("facilitator").patch(
        session_url(session), {"title": "Thursday circle"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Thursday circle"
    session.refresh_from_db()
    assert session.title == "Thursday circle"


@pytest.mark.parametrize(
    "hours", [{"ends_at": -1}, {"ends_at": 13}], ids=["end-before-start", "13-hours"]
)
def test_moving_a_sessions_end_to_an_impossible_time_is_refused(world, hours):
    session = make_session(world)
    ends_at = session.starts_at + timedelta(hours=hours["ends_at"])

    response = world.client("facilitator").patch(
        session_url(session), {"ends_at": ends_at.isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert "ends_at" in response.json()["extra"]["fields"]
    before = session.ends_at
    session.refresh_from_db()
    assert session.ends_at == before


# --- status machine over REST ----------------------------------------------------------------


def test_a_session_cannot_open_while_the_group_has_no_agreement(world):
    session = make_session(world)

    response = world.client("facilitator").patch(
        session_url(session), {"status": "open"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "agreement_missing"
    session.refresh_from_db()
    assert session.status == "scheduled"
    assert session.last_seq == 0
    assert seqs(session) == []


def test_a_session_walks_open_live_paused_live_ended_with_one_event_per_move(world):
    publish_agreement(world)
    session = make_session(world)
    client = world.client("facilitator")
    walk = ["open", "live", "paused", "live", "ended"]

    for step, status in enumerate(walk, start=1):
        response = client.patch(session_url(session), {"status": status}, format="json")
        assert response.status_code == 200, (status, response.json())
        assert response.json()["status"] == status
        session.refresh_from_db()
        assert session.status == status
        assert session.last_seq == step

    rows = list(SessionEvent.objects.filter(session=session))
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
    assert {row.type for row in rows} == {"session.status"}
    assert [row.payload["status"] for row in rows] == walk
    assert session.last_seq == rows[-1].seq


def test_every_status_change_is_audited_with_where_it_came_from(world):
    publish_agreement(world)
    session = make_session(world)

    move(world, session, "open", "live")

    entries = AuditEntry.objects.filter(
        action="session.status_changed", target_id=str(session.pk)
    ).order_by("id")
    assert [e.extra for e in entries] == [
        {"from": "scheduled", "to": "open"},
        {"from": "open", "to": "live"},
    ]
    assert {e.actor_id for e in entries} == {world.user("facilitator").pk}


def test_a_status_note_travels_in_the_status_event(world):
    publish_agreement(world)
    session = make_session(world)

    world.client("facilitator").patch(
        session_url(session), {"status": "open", "note": "  Doors open early.  "}, format="json"
    )

    event = SessionEvent.objects.get(session=session)
    assert event.as_event() == {
        "type": "session.status",
        "seq": 1,
        "status": "open",
        "note": "Doors open early.",
    }


@pytest.mark.parametrize(("src", "dst"), REFUSED, ids=[f"{s}-to-{d}" for s, d in REFUSED])
def test_a_move_the_status_machine_does_not_allow_is_refused_and_changes_nothing(world, src, dst):
    publish_agreement(world)
    session = move(world, make_session(world), *ROUTE[src])
    last_seq = session.last_seq

    response = world.client("facilitator").patch(
        session_url(session), {"status": dst}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert response.json()["extra"]["status"] == src
    session.refresh_from_db()
    assert session.status == src
    assert session.last_seq == last_seq
    assert seqs(session) == list(range(1, last_seq + 1))


def test_the_status_machine_allows_exactly_the_documented_moves():
    in_code = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}

    assert in_code == ALLOWED


def test_an_unknown_status_is_invalid_input(world):
    publish_agreement(world)
    session = make_session(world)

    response = world.client("facilitator").patch(
        session_url(session), {"status": "cancelled"}, format="json"
    )

    assert response.status_code == 400
    assert "status" in response.json()["extra"]["fields"]
    session.refresh_from_db()
    assert session.status == "scheduled"


def test_a_refused_move_also_undoes_a_rename_sent_with_it(world):
    publish_agreement(world)
    session = make_session(world)

    response = world.client("facilitator").patch(
        session_url(session), {"title": "Renamed", "status": "live"}, format="json"
    )

    assert response.status_code == 409
    session.refresh_from_db()
    assert (session.title, session.status) == ("Tuesday circle", "scheduled")


@pytest.mark.parametrize(
    "body",
    [{"title": "After the fact"}, {"kind": "drop_in"}, {"co_hosts": []}],
    ids=["title", "kind", "co_hosts"],
)
def test_an_ended_session_can_no_longer_change(world, body):
    publish_agreement(world)
    session = move(world, make_session(world), "open", "ended")

    response = world.client("facilitator").patch(session_url(session), body, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "ended"
    session.refresh_from_db()
    assert session.title == "Tuesday circle"
    assert session.kind == "booked"
    assert list(session.co_hosts.all()) == [world.members["peer_mentor"]]


# --- status machine through the service: co-hosts --------------------------------------------


def test_a_co_host_opens_starts_and_pauses_but_may_not_end_while_a_facilitator_is_in_the_room(
    world,
):
    publish_agreement(world)
    session = make_session(world)
    mentor = world.user("peer_mentor")

    for status in ("open", "live", "paused", "live"):
        session = services.session_set_status(actor=mentor, session=session, status=status)
        assert session.status == status
    services.room_enter(actor=world.user("facilitator"), session_id=session.pk)

    with pytest.raises(Forbidden) as refused:
        services.session_set_status(actor=mentor, session=session, status="ended")

    assert refused.value.code == "forbidden"
    session.refresh_from_db()
    assert session.status == "live"
    assert seqs(session) == [1, 2, 3, 4]
    assert session.last_seq == 4


def test_a_co_host_may_end_the_session_while_no_facilitator_is_in_the_room(world):
    publish_agreement(world)
    session = move(world, make_session(world), "open", "live")
    facilitator, _state = services.room_enter(
        actor=world.user("facilitator"), session_id=session.pk
    )
    services.room_leave(context=facilitator)

    ended = services.session_set_status(
        actor=world.user("peer_mentor"), session=session, status="ended"
    )

    assert ended.status == "ended"
    entry = AuditEntry.objects.get(action="session.status_changed", extra__to="ended")
    assert entry.actor == world.user("peer_mentor")


@pytest.mark.parametrize("status", ["open", "ended"])
def test_a_peer_mentor_who_is_not_a_co_host_may_not_set_any_status(world, status):
    publish_agreement(world)
    session = make_session(world, co_hosts=[])

    with pytest.raises(Forbidden) as refused:
        services.session_set_status(actor=world.user("peer_mentor"), session=session, status=status)

    assert refused.value.code == "forbidden"
    session.refresh_from_db()
    assert session.status == "scheduled"
    assert seqs(session) == []


def test_a_non_co_host_peer_mentor_may_not_pause_a_live_session(world):
    publish_agreement(world)
    session = move(world, make_session(world, co_hosts=[]), "open", "live")

    with pytest.raises(Forbidden):
        services.session_set_status(
            actor=world.user("peer_mentor"), session=session, status="paused"
        )

    session.refresh_from_db()
    assert session.status == "live"


def test_a_plain_member_may_not_set_a_status_through_the_service(world):
    publish_agreement(world)
    session = make_session(world)

    with pytest.raises(Forbidden):
        services.session_set_status(actor=world.user("member"), session=session, status="open")

    session.refresh_from_db()
    assert session.status == "scheduled"


# --- attendance ------------------------------------------------------------------------------


def enter_room(world: World, persona: str = "member") -> tuple[Session, services.RoomContext]:
    """`persona` enters a live session of group A the way the room does (`room_enter`)."""
    room = make_room(world=world)
    context, _state = services.room_enter(actor=world.users[persona], session_id=room.session.pk)
    return room.session, context


@pytest.mark.parametrize("persona", ["facilitator", "peer_mentor"])
def test_hosts_read_attendance_and_see_joins_and_leaves(world, persona):
    room = make_room(world=world)
    session = room.session
    client = world.client(persona)

    empty = client.get(session_url(session, "attendance/"))
    context, _state = services.room_enter(actor=world.users["member"], session_id=session.pk)
    joined = client.get(session_url(session, "attendance/"))
    services.room_leave(context=context)
    left = client.get(session_url(session, "attendance/"))

    assert empty.status_code == 200
    assert empty.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert joined.status_code == 200
    (row,) = joined.json()["results"]
    assert row["member_id"] == world.members["member"].pk
    assert row["display_name"] == "Rose"
    assert row["joined_at"]
    assert row["left_at"] is None
    assert "user_id" not in row
    (row,) = left.json()["results"]
    assert row["left_at"] is not None
    stay = Attendance.objects.get(pk=context.attendance_id)
    assert stay.left_at is not None
    assert stay.left_at >= stay.joined_at


def test_leaving_twice_keeps_the_first_leaving_time(world):
    session, context = enter_room(world)
    services.room_leave(context=context)
    first = Attendance.objects.get(pk=context.attendance_id).left_at

    services.room_leave(context=context)

    assert first is not None
    assert Attendance.objects.get(pk=context.attendance_id).left_at == first
    assert Attendance.objects.filter(session=session).count() == 1


@pytest.mark.parametrize(
    ("persona", "status"),
    [("member", 403), ("outsider", 404), ("other_facilitator", 404)],
)
def test_attendance_is_for_hosts_only(world, persona, status):
    session, _context = enter_room(world)

    response = world.client(persona).get(session_url(session, "attendance/"))

    assert response.status_code == status
    assert "Rose" not in response.content.decode()


def test_a_peer_mentor_who_is_not_a_co_host_may_not_read_attendance(world):
    session = make_session(world, co_hosts=[])

    response = world.client("peer_mentor").get(session_url(session, "attendance/"))

    assert response.status_code == 403
