"""Who may see a concern, from one table: persona x concern shape -> status of the detail call.

The list, the thread and the status move all follow the same table: a persona who gets 404 for
a concern finds it in no list and cannot reach it through any other route (IDOR), and the
member a concern is about never learns it exists, nor who raised it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.safeguarding import (
    CONCERNS,
    detail,
    move,
    raise_concern,
    reply,
    written,
)

pytestmark = pytest.mark.django_db

# Concern shapes, all raised by `member` in group A.
SHAPES: dict[str, dict[str, Any]] = {
    # about member2, kept from the peer mentors
    "private": {"about": "member2", "share_with_peer_mentors": False},
    # about member2, shared with the peer mentors
    "shared": {"about": "member2", "share_with_peer_mentors": True},
    # about the peer mentor (a host): the leads have it from the start
    "about_host": {"about": "peer_mentor", "share_with_peer_mentors": True},
    # about how the group is run: the leads only, never the group's facilitators
    "facilitation": {
        "about": None,
        "share_with_peer_mentors": True,
        "category": "facilitation",
    },
    # "private", acknowledged then escalated by the facilitator
    "escalated": {"about": "member2", "share_with_peer_mentors": False, "escalate": True},
}

# THE table: persona -> status of GET /api/v1/concerns/{id}/ for each shape, in this order.
COLUMNS = ("private", "shared", "about_host", "facilitation", "escalated")
TABLE: dict[str, tuple[int, int, int, int, int]] = {
    #                     private shared about_host facilitation escalated
    "member":            (200,    200,   200,       200,         200),  # she raised them
    "facilitator":       (200,    200,   200,       404,         200),
    "member2":           (404,    404,   404,       404,         404),  # three are about her
    "peer_mentor":       (404,    200,   404,       404,         404),
    "safeguarding_lead": (404,    404,   200,       200,         200),
    "other_facilitator": (404,    404,   404,       404,         404),
    "outsider":          (404,    404,   404,       404,         404),
    "admin":             (404,    404,   404,       404,         404),
    "deactivated":       (401,    401,   401,       401,         401),
    "anonymous":         (401,    401,   401,       401,         401),
}  # fmt: skip
VISIBILITY = {persona: dict(zip(COLUMNS, row, strict=True)) for persona, row in TABLE.items()}

# Who may move a concern's status (the others who see it get 403 for a move).
MOVERS: dict[str, set[str]] = {
    "private": {"facilitator"},
    "shared": {"facilitator"},
    "about_host": {"facilitator", "safeguarding_lead"},
    "facilitation": {"safeguarding_lead"},
    "escalated": {"facilitator", "safeguarding_lead"},
}


def make_shape(world: World, shape: str) -> int:
    spec = SHAPES[shape]
    about = spec["about"]
    concern_id = raise_concern(
        world,
        category=spec.get("category", "about_member"),
        about_member_id=world.members[about].pk if about else None,
        share_with_peer_mentors=spec["share_with_peer_mentors"],
    )
    if spec.get("escalate"):
        for step in ("acknowledged", "escalated"):
            assert move(world, "facilitator", concern_id, step).status_code == 200
    return concern_id


def test_the_table_covers_every_shape_for_every_persona():
    assert set(COLUMNS) == set(SHAPES) == set(MOVERS)
    assert {"member", "member2", "anonymous", "admin"} <= set(VISIBILITY)


@pytest.mark.parametrize("shape", COLUMNS)
def test_who_may_read_a_concern_follows_the_table(world, shape):
    concern_id = make_shape(world, shape)
    expected = {persona: row[shape] for persona, row in VISIBILITY.items()}
    actual = {persona: detail(world, persona, concern_id).status_code for persona in VISIBILITY}
    assert actual == expected
    for persona, status in expected.items():
        if status == 404:
            # Exactly as if it did not exist.
            answer = detail(world, persona, concern_id).json()
            assert answer == detail(world, persona, 987654).json()


def test_the_list_holds_exactly_the_concerns_each_persona_may_read(world):
    ids = {shape: make_shape(world, shape) for shape in SHAPES}
    for persona, row in VISIBILITY.items():
        response = world.client(persona).get(CONCERNS)
        if persona in {"anonymous", "deactivated"}:
            assert response.status_code == 401
            continue
        assert response.status_code == 200
        visible = {ids[shape] for shape, status in row.items() if status == 200}
        rows = response.json()["results"]
        assert {r["id"] for r in rows} == visible, persona
        assert response.json()["count"] == len(visible)
        for r in rows:
            # A list never carries the text, the reporter or the person it is about.
            assert not {"body", "reporter", "about", "replies", "history"} & set(r)
            assert r["raised_by_me"] is (persona == "member")


def _next_step(shape: str) -> str:
    return "closed" if SHAPES[shape].get("escalate") else "acknowledged"


@pytest.mark.parametrize("shape", COLUMNS)
def test_replying_and_moving_follow_the_same_table(world, shape):
    """Who cannot read it gets the same answer for the thread and the status (IDOR); who
    reads it may reply; only its handlers may move it (the others who read it: 403)."""
    concern_id = make_shape(world, shape)
    expected: dict[str, tuple[int, int]] = {}
    actual: dict[str, tuple[int, int]] = {}
    for persona, row in VISIBILITY.items():
        if row[shape] != 200:
            expected[persona] = (row[shape], row[shape])
        else:
            expected[persona] = (201, 200 if persona in MOVERS[shape] else 403)
        # Every persona moves a fresh concern of this shape, so one move does not spoil the next.
        target = concern_id if persona not in MOVERS[shape] else make_shape(world, shape)
        before = written()
        answered = reply(world, persona, target, "Can you tell me more?").status_code
        moved = move(world, persona, target, _next_step(shape)).status_code
        actual[persona] = (answered, moved)
        if row[shape] != 200:
            assert written() == before, persona
    assert actual == expected


def test_the_lead_cannot_see_a_concern_until_it_is_escalated(world):
    concern_id = raise_concern(world)
    assert detail(world, "safeguarding_lead", concern_id).status_code == 404
    assert concern_id not in {
        row["id"] for row in world.client("safeguarding_lead").get(CONCERNS).json()["results"]
    }
    assert move(world, "facilitator", concern_id, "acknowledged").status_code == 200
    assert detail(world, "safeguarding_lead", concern_id).status_code == 404
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    assert detail(world, "safeguarding_lead", concern_id).status_code == 200
    listed = world.client("safeguarding_lead").get(CONCERNS).json()["results"]
    assert [row["id"] for row in listed] == [concern_id]


def test_the_member_it_is_about_never_learns_of_it_even_as_a_peer_mentor_it_was_shared_with(world):
    concern_id = raise_concern(
        world, about_member_id=world.members["peer_mentor"].pk, share_with_peer_mentors=True
    )
    client = world.client("peer_mentor")
    assert client.get(f"{CONCERNS}{concern_id}/").status_code == 404
    assert client.get(CONCERNS).json()["count"] == 0
    assert client.get(f"{CONCERNS}?overdue=true").json()["count"] == 0


def test_no_query_parameter_or_nested_route_reaches_a_concern_she_may_not_see(world):
    concern_id = raise_concern(world)
    client = world.client("member2")
    for query in (
        f"?id={concern_id}",
        f"?reporter={world.members['member'].pk}",
        f"?about_member_id={world.members['member2'].pk}",
        f"?group_id={world.group_a.pk}",
        "?expand=reporter,about,body",
        "?overdue=1",
    ):
        response = client.get(f"{CONCERNS}{query}")
        assert response.status_code == 200
        assert response.json()["count"] == 0, query
    assert client.get(f"{CONCERNS}{concern_id}/?expand=body").status_code == 404
    for route in ("replies/", "status/", "history/"):
        answer = client.get(f"{CONCERNS}{concern_id}/{route}")
        assert answer.status_code in {404, 405}
        assert answer.status_code == client.get(f"{CONCERNS}987654/{route}").status_code
    assert b"She keeps messaging me" not in client.get(f"{CONCERNS}?expand=body").content
