"""Past the deadline (issue 16): a concern nobody acknowledged by its answer-by time goes to the
safeguarding leads by itself, once, audited without text or actor, and her timeline says that
someone more senior is looking. It runs from `manage.py escalate_overdue` and from any staff
page load (`frontend.context_processors`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from project import realtime
from project.models import AuditEntry
from safeguarding import oversight, services
from safeguarding.models import Concern, ConcernStatusChange
from tests.conftest import World
from tests.safeguarding import BODY, detail, move, raise_concern

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@contextmanager
def heard(capture: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What the services broadcast once their transactions commit: (group, event) pairs, taken
    from `project.realtime`'s own outbox on the way to the channel layer."""
    box: list[tuple[str, dict[str, Any]]] = []
    token = realtime._outbox.set(box)
    try:
        with capture(execute=True):
            yield box
    finally:
        realtime._outbox.reset(token)


def events_of(box: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(group, json.loads(message["text"])) for group, message in box]


def late(concern_id: int, by: timedelta = HOUR) -> None:
    Concern.objects.filter(pk=concern_id).update(acknowledge_by=timezone.now() - by)


def urgent(world: World, **overrides: Any) -> int:
    return raise_concern(
        world, category="my_wellbeing", about_member_id=None, urgency="urgent", **overrides
    )


def test_an_urgent_concern_past_its_time_goes_to_the_leads_with_its_history_and_audit(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    concern_id = urgent(world)
    late(concern_id)
    with heard(django_capture_on_commit_callbacks) as box:
        assert services.concerns_escalate_overdue() == 1
    concern = Concern.objects.get(pk=concern_id)
    assert concern.status == "escalated"
    assert concern.escalated_at is not None
    change = ConcernStatusChange.objects.get(concern=concern)
    assert (change.from_status, change.to_status, change.automatic) == (
        "received",
        "escalated",
        True,
    )
    assert change.actor_id is None
    assert change.note_to_reporter == ""
    entry = AuditEntry.objects.get(action="concern.escalated", target_id=str(concern_id))
    assert entry.actor_id is None
    assert entry.extra == {"from": "received", "to": "escalated", "automatic": True}
    assert BODY not in json.dumps(entry.extra)
    lead = realtime.user_group(world.users["safeguarding_lead"].pk)
    raised = [(g, e) for g, e in events_of(box) if e["type"] == "concern.raised"]
    assert raised == [
        (lead, {"type": "concern.raised", "concern_id": concern_id, "urgency": "urgent"})
    ]


def test_the_leads_are_told_and_nobody_outside_the_concern_hears_anything(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    concern_id = urgent(world)
    late(concern_id)
    with heard(django_capture_on_commit_callbacks) as box:
        services.concerns_escalate_overdue()
    groups = {group for group, _event in box}
    lead = realtime.user_group(world.users["safeguarding_lead"].pk)
    # The leads, its facilitator, and the woman who raised it (that her concern changed, and
    # on her account's group that an answer waits: issue 17).
    assert groups == {
        lead,
        realtime.member_group(world.members["facilitator"].pk),
        realtime.member_group(world.members["member"].pk),
        realtime.user_group(world.users["member"].pk),
    }
    for persona in ("member2", "peer_mentor", "other_facilitator", "outsider"):
        assert realtime.member_group(world.members[persona].pk) not in groups
    assert realtime.user_group(world.users["admin"].pk) not in groups
    assert BODY not in json.dumps(events_of(box))


def test_running_it_again_changes_nothing_and_tells_nobody(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    concern_id = urgent(world)
    late(concern_id)
    assert services.concerns_escalate_overdue() == 1
    before = (AuditEntry.objects.count(), ConcernStatusChange.objects.count())
    with heard(django_capture_on_commit_callbacks) as box:
        assert services.concerns_escalate_overdue() == 0
    assert box == []
    assert (AuditEntry.objects.count(), ConcernStatusChange.objects.count()) == before


def test_only_concerns_past_their_time_and_still_unacknowledged_are_escalated(
    world: World,
) -> None:
    waiting = urgent(world)
    answered = urgent(world)
    assert move(world, "facilitator", answered, "acknowledged").status_code == 200
    late(answered)
    closed = urgent(world)
    for step in ("acknowledged", "action_taken", "closed"):
        assert move(world, "facilitator", closed, step).status_code == 200
    late(closed)
    overdue = urgent(world)
    late(overdue)
    assert services.concerns_escalate_overdue() == 1
    statuses = dict(Concern.objects.values_list("pk", "status"))
    assert statuses == {
        waiting: "received",
        answered: "acknowledged",
        closed: "closed",
        overdue: "escalated",
    }


def test_urgent_ones_are_escalated_before_the_others(world: World) -> None:
    normal = raise_concern(world, category="other", about_member_id=None, urgency="normal")
    late(normal, by=5 * HOUR)
    first = urgent(world)
    late(first)
    assert services.concerns_escalate_overdue() == 2
    order = list(
        AuditEntry.objects.filter(action="concern.escalated")
        .order_by("id")
        .values_list("target_id", flat=True)
    )
    assert order == [str(first), str(normal)]


def test_her_timeline_says_someone_more_senior_is_looking_in_calm_words(world: World) -> None:
    concern_id = urgent(world)
    late(concern_id)
    services.concerns_escalate_overdue()
    client = Client()
    client.force_login(world.users["member"])
    text = client.get(f"/concerns/{concern_id}/").content.decode()
    assert "Someone more senior is now looking at this with us." in text
    assert "nobody acknowledged" not in text
    history = detail(world, "member", concern_id).json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [("received", "escalated")]


def test_the_command_escalates_for_cron_and_says_how_many(world: World) -> None:
    concern_id = urgent(world)
    out = io.StringIO()
    with time_machine.travel(timezone.now() + 2 * HOUR, tick=False):
        call_command("escalate_overdue", stdout=out)
    assert "Escalated 1 concerns" in out.getvalue()
    assert Concern.objects.get(pk=concern_id).status == "escalated"


def test_a_staff_page_load_escalates_without_cron_and_a_member_page_load_does_not(
    world: World,
) -> None:
    concern_id = urgent(world)
    late(concern_id)
    member = Client()
    member.force_login(world.users["member2"])
    assert member.get("/groups/").status_code == 200
    assert Concern.objects.get(pk=concern_id).status == "received"
    staff = Client()
    staff.force_login(world.users["other_facilitator"])  # not even one of its handlers
    assert staff.get("/groups/").status_code == 200
    assert Concern.objects.get(pk=concern_id).status == "escalated"


def test_the_lead_now_handles_it_and_sees_it_new_to_her_until_she_opens_it(
    world: World,
) -> None:
    from safeguarding import selectors

    concern_id = urgent(world)
    lead = world.users["safeguarding_lead"]
    assert detail(world, "safeguarding_lead", concern_id).status_code == 404
    late(concern_id)
    services.concerns_escalate_overdue()
    inbox = selectors.concern_inbox(viewer=lead)
    assert [row.concern.pk for row in inbox.new_to_you] == [concern_id]
    assert inbox.inbox == []
    assert detail(world, "safeguarding_lead", concern_id).status_code == 200
    inbox = selectors.concern_inbox(viewer=lead)
    assert inbox.new_to_you == []
    assert [row.concern.pk for row in inbox.inbox] == [concern_id]


def test_the_overview_still_counts_it_overdue_once_haven_escalated_it(world: World) -> None:

    concern_id = urgent(world)
    late(concern_id)
    services.concerns_escalate_overdue()
    counts = oversight.concern_counts_by_group(viewer=world.users["safeguarding_lead"])
    assert counts[world.group_a.pk].overdue == 1
