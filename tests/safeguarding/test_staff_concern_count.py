"""A count where staff look (issue 16): "Concerns 2" in the navigation, "(2)" in the tab title
and a banner while an urgent concern is past its answer-by time; members and visitors see
none of it and cost no statement for it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone

from frontend.context_processors import haven
from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import BODY, raise_concern

pytestmark = pytest.mark.django_db


def get(world: World, persona: str | None, path: str = "/groups/") -> str:
    client = Client()
    if persona is not None:
        client.force_login(world.users[persona])
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def title(text: str) -> str:
    return re.search(r"<title>(.*?)</title>", text, re.S).group(1)


def two_concerns(world: World) -> list[int]:
    return [
        raise_concern(world, category="my_wellbeing", about_member_id=None, urgency="urgent"),
        raise_concern(world, "member2", category="other", about_member_id=None),
    ]


def test_staff_see_the_count_in_the_navigation_and_the_title_holds_only_the_number(
    world: World,
) -> None:
    two_concerns(world)
    text = get(world, "facilitator", "/concerns/")
    assert title(text) == "(2) Concerns \N{EN DASH} Haven"
    nav = text[
        text.index('id="nav-concerns"') : text.index("</a>", text.index('id="nav-concerns"'))
    ]
    assert '<span class="nav-count" aria-hidden="true">2</span>' in nav
    assert "(2 open concerns for you to handle)" in nav
    assert title(get(world, "facilitator", "/groups/")).startswith("(2) ")


def test_the_banner_appears_once_an_urgent_concern_is_past_its_time(world: World) -> None:
    urgent, normal = two_concerns(world)
    assert "past its answer-by time" not in get(world, "facilitator")
    Concern.objects.filter(pk__in=[urgent, normal]).update(
        acknowledge_by=timezone.now() - timedelta(minutes=1)
    )
    text = get(world, "facilitator")
    assert "1 urgent concern is past its answer-by time." in text
    assert 'role="region"' in text
    assert 'href="/concerns/"' in text[text.index('id="concern-banner"') :]
    # Escalated by that very page load, it still waits for an answer: the lead sees it too.
    lead = get(world, "safeguarding_lead")
    assert "1 urgent concern is past its answer-by time." in lead
    assert (
        title(lead) == "(2) My groups \N{EN DASH} Haven"
    )  # both were late: both are the leads' now


def test_members_and_visitors_see_neither_count_nor_banner(world: World) -> None:
    urgent, _normal = two_concerns(world)
    Concern.objects.filter(pk=urgent).update(acknowledge_by=timezone.now() - timedelta(hours=1))
    for persona in ("member", "member2", "peer_mentor"):
        text = get(world, persona)
        assert "nav-count" not in text
        assert "concern-banner" not in text
        assert title(text) == "My groups \N{EN DASH} Haven"
    assert "nav-count" not in get(world, None, "/signin/")


def statements_for(world: World, persona: str | None) -> list[str]:
    """The statements the context processor costs one page for `persona`."""
    request = RequestFactory().get("/groups/")
    request.user = world.users[persona] if persona else AnonymousUser()
    with CaptureQueriesContext(connection) as queries:
        context = haven(request)
    assert "staff_concerns" in context
    return [q["sql"] for q in queries]


def test_members_and_visitors_cost_no_statement_for_it(world: World) -> None:
    two_concerns(world)
    for persona in ("member", "peer_mentor", None):
        assert statements_for(world, persona) == []


def test_staff_pay_at_most_three_statements_for_the_count_and_the_lazy_escalation(
    world: World,
) -> None:
    two_concerns(world)
    # Nothing overdue: one statement finds so; then her memberships and one aggregate (an
    # admin who handles no concern needs no aggregate at all).
    assert len(statements_for(world, "facilitator")) == 3
    assert len(statements_for(world, "safeguarding_lead")) == 3
    assert len(statements_for(world, "admin")) == 2


def test_no_concern_text_or_name_reaches_the_title_or_the_banner(world: World) -> None:
    urgent, _normal = two_concerns(world)
    Concern.objects.filter(pk=urgent).update(acknowledge_by=timezone.now() - timedelta(hours=1))
    text = get(world, "facilitator")
    banner = text[
        text.index('id="concern-banner"') : text.index("</div>", text.index("concern-banner"))
    ]
    for words in (BODY, "Rose", "Jade"):
        assert words not in title(text)
        assert words not in banner


def test_the_live_room_shows_no_count_and_no_banner(world: World) -> None:
    """The room has its own alerts for hosts and keeps its title; no statement spent there."""
    two_concerns(world)
    request = RequestFactory().get("/sessions/1/room/")
    request.user = world.users["facilitator"]
    request.resolver_match = resolve("/sessions/1/room/")
    with CaptureQueriesContext(connection) as queries:
        assert haven(request)["staff_concerns"] is None
    assert len(queries) == 0


def test_late_reads_the_same_in_python_and_in_sql(world: World) -> None:
    """`is_late` (one concern) and `late_q` (the banner's count) give the same verdict."""
    from safeguarding import selectors
    from tests.safeguarding import move

    now = timezone.now()
    waiting, answered = two_concerns(world)
    escalated, closed = two_concerns(world)
    assert move(world, "facilitator", answered, "acknowledged").status_code == 200
    assert move(world, "facilitator", escalated, "escalated").status_code == 200
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", closed, step).status_code == 200
    Concern.objects.update(acknowledge_by=now - timedelta(minutes=1))
    verdicts = {}
    for concern in Concern.objects.all():
        in_sql = Concern.objects.filter(selectors.late_q(now), pk=concern.pk).exists()
        assert selectors.is_late(concern, now) is in_sql, concern.pk
        verdicts[concern.pk] = in_sql
    assert verdicts == {waiting: True, answered: False, escalated: True, closed: False}
