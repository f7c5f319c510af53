"""Retention of what staff write after issue 16: debriefs and handover notes after a session,
why a member was paused or removed and the message she was shown, and invite labels. Past the
group's retention the text is emptied (the record that it happened stays); newer text stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import Debrief, HandoverNote
from groups import services as group_services
from groups.models import Invite, MemberDecision
from tests.safeguarding import live_room, purge_at

pytestmark = pytest.mark.django_db

WORDS = "A hard evening; Rose needs a call this week."


def staff_texts(world):
    room = live_room(world)
    fac = world.users["facilitator"]
    session_services.session_set_status(actor=fac, session=room.session, status="ended")
    room.session.refresh_from_db()
    session_services.debrief_write(actor=fac, session=room.session, body=WORDS)
    session_services.handover_write(actor=fac, session=room.session, body=WORDS)
    group_services.member_decide(
        actor=fac,
        group=world.group_a,
        member_id=world.members["member2"].pk,
        decision="pause",
        weeks=2,
        reason=WORDS,
        message=WORDS,
    )
    group_services.invite_create(actor=fac, group=world.group_a, label=WORDS)


def texts() -> list[str]:
    return [
        *Debrief.objects.values_list("body", flat=True),
        *HandoverNote.objects.values_list("body", flat=True),
        *MemberDecision.objects.values_list("reason", flat=True),
        *MemberDecision.objects.values_list("message", flat=True),
        *Invite.objects.values_list("label", flat=True),
    ]


def test_staff_texts_are_kept_within_retention_and_emptied_after_it(world):
    staff_texts(world)
    start = timezone.now()

    purge_at(start + timedelta(days=29))
    kept = texts()
    purge_at(start + timedelta(days=31))
    emptied = texts()

    assert kept.count(WORDS) == 5
    assert WORDS not in emptied
    assert Debrief.objects.count() == 1 and MemberDecision.objects.count() == 1
