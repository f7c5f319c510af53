"""The audit log of concerns: every handler's read and every change is recorded (who, which,
when), never with any text; only safeguarding leads and admins may read the log, and a concern's
entries only if they may see the concern (tests/safeguarding/test_audit_concern_visibility.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.utils import timezone

from project.models import AuditEntry
from tests.safeguarding import BODY, detail, move, raise_concern, reply

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"


def entries(action: str, concern_id: int) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            action=action, target_type="concern", target_id=str(concern_id)
        ).order_by("at", "id")
    )


def test_every_read_by_a_handler_is_recorded_with_who_which_and_when_and_no_text(world):
    concern_id = raise_concern(world)
    moment = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    assert detail(world, "facilitator", concern_id).status_code == 200
    with time_machine.travel(moment, tick=False):
        assert detail(world, "facilitator", concern_id).status_code == 200
    viewed = entries("concern.viewed", concern_id)
    assert len(viewed) == 2
    first = viewed[1]
    assert viewed[0].actor == world.users["facilitator"]
    assert first.actor == world.users["facilitator"]
    assert first.at == moment
    assert first.group_id == world.group_a.pk
    assert first.extra == {"role": "handler"}
    assert BODY not in json.dumps(model_to_dict(first), default=str)


def test_the_reporter_reading_her_own_concern_is_not_an_access_to_record(world):
    concern_id = raise_concern(world)
    assert detail(world, "member", concern_id).status_code == 200
    assert entries("concern.viewed", concern_id) == []


def test_a_refused_read_records_nothing(world):
    concern_id = raise_concern(world)
    before = AuditEntry.objects.count()
    assert detail(world, "member2", concern_id).status_code == 404
    assert detail(world, "safeguarding_lead", concern_id).status_code == 404
    assert AuditEntry.objects.count() == before


def test_a_peer_mentor_reading_a_shared_concern_is_recorded_as_a_peer_handler(world):
    concern_id = raise_concern(world, share_with_peer_mentors=True)
    assert detail(world, "peer_mentor", concern_id).status_code == 200
    [viewed] = entries("concern.viewed", concern_id)
    assert viewed.actor == world.users["peer_mentor"]
    assert viewed.extra == {"role": "peer_handler"}


def test_raising_moving_replying_and_escalating_are_each_recorded(world):
    concern_id = raise_concern(world, urgency="urgent", message_ids=[])
    [raised] = entries("concern.raised", concern_id)
    assert raised.actor == world.users["member"]
    assert raised.extra == {"category": "about_member", "urgency": "urgent", "messages": 0}
    assert move(world, "facilitator", concern_id, "acknowledged", "Read it").status_code == 200
    [changed] = entries("concern.status_changed", concern_id)
    assert changed.actor == world.users["facilitator"]
    assert changed.extra == {"from": "received", "to": "acknowledged", "with_note": True}
    assert reply(world, "member", concern_id, "Thank you").status_code == 201
    assert reply(world, "facilitator", concern_id, "You are welcome").status_code == 201
    replied = entries("concern.replied", concern_id)
    assert [(e.actor, e.extra) for e in replied] == [
        (world.users["member"], {"role": "reporter"}),
        (world.users["facilitator"], {"role": "handler"}),
    ]
    assert move(world, "facilitator", concern_id, "escalated").status_code == 200
    [escalated] = entries("concern.escalated", concern_id)
    assert escalated.actor == world.users["facilitator"]
    assert escalated.extra == {"from": "acknowledged", "to": "escalated", "with_note": False}
    assert move(world, "safeguarding_lead", concern_id, "closed").status_code == 200
    closing = entries("concern.status_changed", concern_id)[-1]
    assert closing.actor == world.users["safeguarding_lead"]
    assert closing.extra["to"] == "closed"


AUDIT_ACCESS = {
    "safeguarding_lead": 200,
    "admin": 200,
    "facilitator": 403,
    "other_facilitator": 403,
    "peer_mentor": 403,
    "member": 403,
    "outsider": 403,
    "deactivated": 401,
    "anonymous": 401,
}


def seen_by_the_leads(world) -> dict[str, int]:
    """A concern about a host goes to the safeguarding leads from the start."""
    return {"about_member_id": world.members["peer_mentor"].pk}


def test_only_safeguarding_leads_and_admins_may_read_the_audit_log(world):
    raise_concern(world, **seen_by_the_leads(world))
    actual = {persona: world.client(persona).get(AUDIT).status_code for persona in AUDIT_ACCESS}
    assert actual == AUDIT_ACCESS
    page = world.client("safeguarding_lead").get(AUDIT).json()
    assert {"count", "next", "previous", "results"} <= set(page)
    assert page["count"] == AuditEntry.objects.count() > 0
    assert set(page["results"][0]) == {
        "id",
        "at",
        "actor_id",
        "action",
        "target_type",
        "target_id",
        "group_id",
        "extra",
    }


def test_the_audit_log_filters_by_target_action_and_time(world):
    early = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    late = early + timedelta(days=2)
    with time_machine.travel(early, tick=False):
        first = raise_concern(world, **seen_by_the_leads(world))
        second = raise_concern(world, **seen_by_the_leads(world))
    with time_machine.travel(late, tick=False):
        assert detail(world, "facilitator", first).status_code == 200
    client = world.client("safeguarding_lead")

    def ids(query: str) -> set[tuple[str, str]]:
        response = client.get(f"{AUDIT}?{query}")
        assert response.status_code == 200, response.json()
        return {(row["action"], row["target_id"]) for row in response.json()["results"]}

    assert ids(f"target_type=concern&target_id={first}") == {
        ("concern.raised", str(first)),
        ("concern.viewed", str(first)),
    }
    assert ids("action=concern.viewed") == {("concern.viewed", str(first))}
    assert ids("target_type=concern&until=2026-11-02T00:00:00Z") == {
        ("concern.raised", str(first)),
        ("concern.raised", str(second)),
    }
    assert ids("target_type=concern&since=2026-11-02T00:00:00Z") == {("concern.viewed", str(first))}
    assert ids("since=2026-11-03T09:00:00Z&until=2026-11-03T09:00:01Z") == {
        ("concern.viewed", str(first))
    }
    assert ids("target_type=nothing_like_this") == set()
    bad = client.get(f"{AUDIT}?since=yesterday")
    assert bad.status_code == 400
    assert "since" in bad.json()["extra"]["fields"]


def test_no_audit_entry_carries_any_text_or_name(world):
    secrets = [
        "The concern text that must stay out",
        "A reply that must stay out",
        "A note to her that must stay out",
        "A second reply that must stay out",
    ]
    concern_id = raise_concern(world, body=secrets[0], share_with_peer_mentors=True)
    assert reply(world, "member", concern_id, secrets[1]).status_code == 201
    assert move(world, "facilitator", concern_id, "acknowledged", secrets[2]).status_code == 200
    assert reply(world, "peer_mentor", concern_id, secrets[3]).status_code == 201
    for persona in ("facilitator", "peer_mentor", "member"):
        assert detail(world, persona, concern_id).status_code == 200
    assert move(world, "facilitator", concern_id, "escalated", secrets[2]).status_code == 200
    assert detail(world, "safeguarding_lead", concern_id).status_code == 200
    names = [m.display_name for m in world.members.values()]
    usernames = [m.user.username for m in world.members.values()]
    rows = list(AuditEntry.objects.all())
    assert len(rows) >= 9
    dump = json.dumps([model_to_dict(row) for row in rows], default=str)
    extras = json.dumps([row.extra for row in rows])
    for text in secrets:
        assert text not in dump
    for name in names:
        assert name not in extras
    for username in usernames:
        assert f'"{username}"' not in extras
    served = world.client("safeguarding_lead").get(f"{AUDIT}?target_type=concern").content
    assert str(concern_id).encode() in served
    for text in [*secrets, *names]:
        assert text.encode() not in served


def test_the_log_keeps_times_in_utc_and_in_order_newest_first(world):
    concern_id = raise_concern(world, **seen_by_the_leads(world))
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        detail(world, "facilitator", concern_id)
    rows = world.client("safeguarding_lead").get(
        f"{AUDIT}?target_type=concern&target_id={concern_id}"
    )
    rows = rows.json()["results"]
    assert [row["action"] for row in rows] == ["concern.viewed", "concern.raised"]
    assert all(row["at"].endswith("Z") for row in rows)
