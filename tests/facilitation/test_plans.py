"""Session plans: who may read and replace them, and that a replacement is all or nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from facilitation import services
from facilitation.models import PlanItem, Session
from groups import services as group_services
from project.exceptions import ValidationFailed
from project.models import AuditEntry
from tests.conftest import World

PLAN: list[dict[str, Any]] = [
    {
        "title": "Arrive and settle",
        "kind": "check_in",
        "minutes": 10,
        "notes": "One word each.",
        "content_warnings": [],
    },
    {
        "title": "Dealing with the courts",
        "kind": "topic",
        "minutes": 45,
        "notes": "Keep it general.",
        "content_warnings": ["police_courts", "child_removal"],
    },
    {
        "title": "Breathing together",
        "kind": "grounding",
        "minutes": 5,
        "notes": "",
        "content_warnings": [],
    },
]


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


def plan_url(session: Session) -> str:
    return f"/api/v1/sessions/{session.pk}/plan/"


def stored(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "position": item.position,
            "title": item.title,
            "kind": item.kind,
            "minutes": item.minutes,
            "notes": item.notes,
            "content_warnings": item.content_warnings,
        }
        for item in PlanItem.objects.filter(session=session).order_by("position")
    ]


def with_positions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"position": i, **item} for i, item in enumerate(items)]


@pytest.mark.parametrize("persona", ["facilitator", "peer_mentor"])
def test_a_host_puts_a_plan_and_reads_it_back_in_order(world, persona):
    session = make_session(world)
    client = world.client(persona)

    put = client.put(plan_url(session), {"items": PLAN}, format="json")
    got = client.get(plan_url(session))

    assert put.status_code == 200
    assert put.json() == {"session_id": session.pk, "items": PLAN}
    assert got.status_code == 200
    assert got.json() == {"session_id": session.pk, "items": PLAN}
    assert stored(session) == with_positions(PLAN)


def test_a_new_session_has_an_empty_plan(world):
    session = make_session(world)

    response = world.client("facilitator").get(plan_url(session))

    assert response.status_code == 200
    assert response.json() == {"session_id": session.pk, "items": []}


def test_notes_and_warnings_may_be_left_out_of_an_item(world):
    session = make_session(world)

    response = world.client("facilitator").put(
        plan_url(session),
        {"items": [{"title": "Tea", "kind": "break", "minutes": 15}]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["items"] == [
        {"title": "Tea", "kind": "break", "minutes": 15, "notes": "", "content_warnings": []}
    ]


def test_a_second_put_replaces_the_whole_plan_and_keeps_the_new_order(world):
    session = make_session(world)
    client = world.client("facilitator")
    client.put(plan_url(session), {"items": PLAN}, format="json")
    reordered = [PLAN[2], PLAN[0]]

    response = client.put(plan_url(session), {"items": reordered}, format="json")

    assert response.status_code == 200
    assert client.get(plan_url(session)).json()["items"] == reordered
    assert stored(session) == with_positions(reordered)


def test_an_empty_list_clears_the_plan(world):
    session = make_session(world)
    client = world.client("facilitator")
    client.put(plan_url(session), {"items": PLAN}, format="json")

    response = client.put(plan_url(session), {"items": []}, format="json")

    assert response.status_code == 200
    assert PlanItem.objects.filter(session=session).count() == 0


def test_replacing_a_plan_is_audited_with_a_count_only(world):
    session = make_session(world)

    world.client("facilitator").put(plan_url(session), {"items": PLAN}, format="json")

    entry = AuditEntry.objects.get(action="plan.replaced", target_id=str(session.pk))
    assert entry.extra == {"items": 3}


BAD_SECOND_ITEMS = {
    "kind-nap": {**PLAN[1], "kind": "nap"},
    "zero-minutes": {**PLAN[1], "minutes": 0},
    "241-minutes": {**PLAN[1], "minutes": 241},
    "minutes-as-words": {**PLAN[1], "minutes": "ten"},
    "no-title": {**PLAN[1], "title": ""},
    "121-char-title": {**PLAN[1], "title": "t" * 121},
    "2001-char-notes": {**PLAN[1], "notes": "n" * 2001},
    "unknown-warning": {**PLAN[1], "content_warnings": ["spiders"]},
    "not-an-object": "Dealing with the courts",
}


@pytest.mark.parametrize("bad", BAD_SECOND_ITEMS.values(), ids=BAD_SECOND_ITEMS.keys())
def test_a_plan_with_a_bad_second_item_is_refused_and_the_old_plan_stays(world, bad):
    session = make_session(world)
    client = world.client("facilitator")
    client.put(plan_url(session), {"items": PLAN}, format="json")
    audits = AuditEntry.objects.count()

    response = client.put(plan_url(session), {"items": [PLAN[0], bad, PLAN[2]]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any(key.startswith("items.1") for key in body["extra"]["fields"]), body
    assert stored(session) == with_positions(PLAN)
    assert AuditEntry.objects.count() == audits


@pytest.mark.parametrize("items", [[PLAN[0]] * 31, "a plan", None], ids=["31-items", "str", "null"])
def test_a_plan_that_is_not_a_list_of_at_most_30_items_is_refused(world, items):
    session = make_session(world)
    client = world.client("facilitator")
    client.put(plan_url(session), {"items": PLAN}, format="json")

    response = client.put(plan_url(session), {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    fields = response.json()["extra"]["fields"]
    assert fields
    assert all(key.split(".")[0] == "items" for key in fields), fields
    assert stored(session) == with_positions(PLAN)


def test_a_plan_of_exactly_30_items_is_accepted(world):
    session = make_session(world)

    response = world.client("facilitator").put(
        plan_url(session), {"items": [PLAN[0]] * 30}, format="json"
    )

    assert response.status_code == 200
    assert [item.position for item in PlanItem.objects.filter(session=session)] == list(range(30))


@pytest.mark.parametrize(
    "bad",
    [{**PLAN[1], "kind": "nap"}, {**PLAN[1], "minutes": 241}, {**PLAN[1], "minutes": True}],
    ids=["kind-nap", "241-minutes", "minutes-true"],
)
def test_the_service_refuses_a_bad_second_item_before_touching_the_old_plan(world, bad):
    session = make_session(world)
    actor = world.user("facilitator")
    services.plan_replace(actor=actor, session=session, items=PLAN)

    with pytest.raises(ValidationFailed) as refused:
        services.plan_replace(actor=actor, session=session, items=[PLAN[0], bad])

    assert any(key.startswith("items.1") for key in refused.value.extra["fields"])
    assert stored(session) == with_positions(PLAN)


def test_the_service_refuses_31_items(world):
    session = make_session(world)
    actor = world.user("facilitator")
    services.plan_replace(actor=actor, session=session, items=PLAN)

    with pytest.raises(ValidationFailed):
        services.plan_replace(actor=actor, session=session, items=[PLAN[0]] * 31)

    assert stored(session) == with_positions(PLAN)


# --- who may ---------------------------------------------------------------------------------


def test_a_member_may_not_read_or_replace_the_plan(world):
    session = make_session(world)
    services.plan_replace(actor=world.user("facilitator"), session=session, items=PLAN)
    client = world.client("member")

    read = client.get(plan_url(session))
    write = client.put(plan_url(session), {"items": []}, format="json")

    assert read.status_code == 403
    assert write.status_code == 403
    assert "Dealing with the courts" not in read.content.decode()
    assert stored(session) == with_positions(PLAN)


def test_a_peer_mentor_who_is_not_a_co_host_may_not_read_or_replace_the_plan(world):
    session = make_session(world, co_hosts=[])
    services.plan_replace(actor=world.user("facilitator"), session=session, items=PLAN)
    client = world.client("peer_mentor")

    write = client.put(plan_url(session), {"items": [PLAN[0]]}, format="json")
    read = client.get(plan_url(session))

    assert write.status_code == 403
    assert write.json()["code"] == "forbidden"
    assert read.status_code == 403
    assert stored(session) == with_positions(PLAN)


@pytest.mark.parametrize("persona", ["outsider", "other_facilitator"])
def test_someone_outside_the_group_gets_404_for_the_plan(world, persona):
    session = make_session(world)
    services.plan_replace(actor=world.user("facilitator"), session=session, items=PLAN)
    client = world.client(persona)

    read = client.get(plan_url(session))
    write = client.put(plan_url(session), {"items": []}, format="json")

    assert (read.status_code, write.status_code) == (404, 404)
    assert stored(session) == with_positions(PLAN)


def test_the_plan_of_an_ended_session_can_no_longer_change(world):
    group_services.agreement_publish(
        actor=world.user("facilitator"), group=world.group_a, points=["Be kind."]
    )
    session = make_session(world)
    services.plan_replace(actor=world.user("facilitator"), session=session, items=PLAN)
    for status in ("open", "ended"):
        services.session_set_status(actor=world.user("facilitator"), session=session, status=status)

    response = world.client("facilitator").put(plan_url(session), {"items": []}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "ended"
    assert stored(session) == with_positions(PLAN)
