"""The concerns pages read through the safeguarding selectors and policy, like the REST API.

The inbox is `selectors.concern_inbox` (the same concerns as `GET /api/v1/concerns/`, hers apart
from those to answer, overdue first); a concern's page offers the moves of
`policies.concern_moves` and nothing else.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from safeguarding import selectors
from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import listed, move, raise_concern

pytestmark = pytest.mark.django_db


def page(world: World, persona: str, path: str) -> str:
    client = Client()
    client.force_login(world.users[persona])
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _overdue(concern_id: int) -> None:
    Concern.objects.filter(pk=concern_id).update(acknowledge_by=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize(
    "persona", ["member", "member2", "facilitator", "peer_mentor", "safeguarding_lead", "admin"]
)
def test_the_inbox_holds_exactly_the_concerns_of_the_list_api(world: World, persona: str) -> None:
    raise_concern(world, share_with_peer_mentors=True)
    escalated = raise_concern(world, category="other", about_member_id=None)
    for step in ("acknowledged", "escalated"):
        assert move(world, "facilitator", escalated, step).status_code == 200
    inbox = selectors.concern_inbox(viewer=world.users[persona])
    handled = [row.concern for row in inbox.new_to_you + inbox.inbox]
    assert {c.pk for c in inbox.mine + handled} == listed(world, persona)
    assert all(c.reporter.user_id == world.users[persona].pk for c in inbox.mine)
    text = page(world, persona, "/concerns/")
    for concern in inbox.mine + handled:
        assert f'href="/concerns/{concern.pk}/"' in text


def test_the_inbox_puts_overdue_concerns_first_and_closed_ones_last(world: World) -> None:
    closed = raise_concern(world, category="other", about_member_id=None)
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", closed, step).status_code == 200
    waiting = raise_concern(world, category="other", about_member_id=None)
    late = raise_concern(world, category="other", about_member_id=None)
    _overdue(late)
    inbox = selectors.concern_inbox(viewer=world.users["facilitator"])
    assert [row.concern.pk for row in inbox.inbox] == [late, waiting, closed]
    assert inbox.mine == []
    assert [c.pk for c in selectors.concern_inbox(viewer=world.users["member"]).mine] == [
        late,
        waiting,
        closed,
    ]


def test_she_may_raise_a_concern_only_in_the_groups_she_is_in(world: World) -> None:
    assert 'name="group_id"' in page(world, "member", "/concerns/")
    text = page(world, "safeguarding_lead", "/concerns/")
    assert 'name="group_id"' not in text  # she sees every group, and is in none


@pytest.mark.parametrize(
    ("persona", "offered"),
    [("facilitator", True), ("peer_mentor", False), ("member", False)],
)
def test_a_concerns_page_offers_a_move_only_to_its_handlers(
    world: World, persona: str, offered: bool
) -> None:
    concern_id = raise_concern(world, share_with_peer_mentors=True)
    text = page(world, persona, f"/concerns/{concern_id}/")
    assert ('value="acknowledged"' in text) is offered


def test_a_concerns_page_marks_it_overdue_for_its_handlers(world: World) -> None:
    concern_id = raise_concern(world)
    assert "Overdue" not in page(world, "facilitator", f"/concerns/{concern_id}/")
    _overdue(concern_id)
    assert "Overdue" in page(world, "facilitator", f"/concerns/{concern_id}/")
    assert "Overdue" not in page(world, "member", f"/concerns/{concern_id}/")
