"""Rounds: everyone present speaks in turn, in the order they came; anyone may pass."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.log import event_append
from facilitation.models import Round, Session, SessionStatus
from facilitation.selectors import room_present
from facilitation.services.context import (
    RoomContext,
    active_round,
    audit_room,
    host_session,
    participant_get,
)
from groups.models import GroupRole, User
from project.exceptions import ApplicationError, Conflict
from project.text import clean_text

ROUND_PROMPT_MAX = 500


def round_state(session_id: int) -> dict[str, Any] | None:
    """The open round as `session.state` shows it, or None."""
    active = active_round(session_id)
    if active is None:
        return None
    return events.round_state(prompt=active.prompt, order=active.order, current=active.current)


def _round_advance(*, session: Session, active: Round, passed: bool) -> None:
    previous = active.current
    if passed and previous is not None:
        active.passed = [*active.passed, previous]
    active.position += 1
    current = active.current
    if current is None:
        active.ended_at = timezone.now()
    active.save(update_fields=["position", "passed", "ended_at"])
    event_append(
        session=session,
        event=events.round_turn(current=current, previous=previous, passed=passed),
    )
    if current is None:
        event_append(session=session, event=events.round_ended())


def round_pass_for(*, session_id: int, member_id: int, session: Session | None = None) -> None:
    """She left, or was removed, while it was her turn: she passes, so the round goes on.

    Runs inside the caller's transaction; takes the session row lock unless given `session`
    (already locked by the caller).
    """
    active = active_round(session_id, lock=True)
    if active is None or active.current != member_id:
        return
    if session is None:
        session = Session.objects.select_for_update().get(pk=session_id)
    _round_advance(session=session, active=active, passed=True)


@transaction.atomic
def round_start(*, actor: User, context: RoomContext, prompt: Any) -> None:
    """Start a round with everyone present (not the facilitators), in the order they came."""
    text = clean_text(
        prompt,
        field="prompt",
        max_length=ROUND_PROMPT_MAX,
        missing=_("Give a prompt for the round."),
    )
    session = host_session(actor, context)
    if session.status != SessionStatus.LIVE:
        raise ApplicationError(_("Start the session before a round."), code="not_live")
    if active_round(session.pk, lock=True) is not None:
        raise Conflict(_("A round is already going."), code="round_active")
    order = [
        entry["member_id"]
        for entry in room_present(session_id=session.pk)
        if entry["role"] != GroupRole.FACILITATOR
    ]
    if not order:
        raise Conflict(_("Nobody is here to take part yet."), code="nobody_present")
    active = Round.objects.create(session=session, prompt=text, order=order)
    event_append(
        session=session,
        event=events.round_started(prompt=text, order=order, current=active.current),
    )
    audit_room(actor, "round.started", session, session, members=len(order))


@transaction.atomic
def round_take_turn(*, actor: User, context: RoomContext, passed: bool) -> None:
    """The member whose turn it is finishes it, or passes: no reason is asked."""
    participant_get(context)
    session = Session.objects.select_for_update().get(pk=context.session_id)
    active = active_round(session.pk, lock=True)
    if active is None or active.current != context.member_id:
        raise ApplicationError(_("It is not your turn."), code="not_your_turn")
    _round_advance(session=session, active=active, passed=passed)


@transaction.atomic
def round_end(*, actor: User, context: RoomContext) -> None:
    """A host ends the round before everyone has had a turn."""
    session = host_session(actor, context)
    active = active_round(session.pk, lock=True)
    if active is None:
        raise Conflict(_("There is no round going."), code="no_round")
    active.ended_at = timezone.now()
    active.save(update_fields=["ended_at"])
    event_append(session=session, event=events.round_ended())
    audit_room(actor, "round.ended", session, session, turns=active.position)
