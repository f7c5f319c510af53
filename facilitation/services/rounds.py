"""Rounds: everyone present speaks in turn, in the order they came; anyone may pass.

Hosts steer: they may skip the speaker or move on to the next. Whoever is not in the room, or
has stepped out, when her turn comes (or while it is hers) is skipped, one `round.turn` each,
so a round never waits for someone who is not there. Removal on her turn passes it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from facilitation import events
from facilitation.log import event_append
from facilitation.models import PresenceStatus, Round, Session, SessionStatus
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
# How a turn ended (`Round.outcomes`, `outcomes` of `round.started` and `session.state`).
DONE, PASSED, SKIPPED = "done", "passed", "skipped"


def round_state(session_id: int) -> dict[str, Any] | None:
    """The open round as `session.state` shows it, or None."""
    active = active_round(session_id)
    if active is None:
        return None
    return events.round_state(
        prompt=active.prompt, order=active.order, current=active.current, outcomes=active.outcomes
    )


def _here(session_id: int) -> set[int]:
    """Members in the room and not stepped out: the only ones whose turn can come."""
    return {
        entry["member_id"]
        for entry in room_present(session_id=session_id)
        if entry["status"] == PresenceStatus.HERE
    }


def _move_on(
    *, session: Session, active: Round, outcome: str, here: set[int] | None = None
) -> None:
    """The current speaker's turn ends with `outcome`; the turn moves on, and everyone it
    reaches who is not here is skipped with a `round.turn` of her own. The last turn ends
    the round. Caller holds the session and round row locks."""
    while True:
        previous = active.current
        active.outcomes = {**active.outcomes, str(previous): outcome}
        if outcome == PASSED:
            active.passed = [*active.passed, previous]
        active.position += 1
        current = active.current
        event_append(
            session=session,
            event=events.round_turn(
                current=current,
                previous=previous,
                passed=outcome == PASSED,
                skipped=outcome == SKIPPED,
            ),
        )
        if current is None:
            active.ended_at = timezone.now()
            break
        if here is None:
            here = _here(session.pk)
        if current in here:
            break
        outcome = SKIPPED
    active.save(update_fields=["position", "passed", "outcomes", "ended_at"])
    if active.ended_at is not None:
        event_append(session=session, event=events.round_ended())


def _turn_ends_for(
    *, session_id: int, member_id: int, outcome: str, session: Session | None, if_away: bool
) -> None:
    """End her turn with `outcome` if it is hers (`if_away`: only if she is not here now).

    Looks without a lock first, so the room's writers are not held up when it is not her
    turn; then locks the session (unless the caller has, passing it), then the round, in the
    same order as every other writer of the room.
    """
    active = active_round(session_id)
    if active is None or active.current != member_id:
        return
    if if_away and member_id in _here(session_id):
        return
    if session is None:
        session = Session.objects.select_for_update().get(pk=session_id)
    active = active_round(session_id, lock=True)
    if active is None or active.current != member_id:
        return
    _move_on(session=session, active=active, outcome=outcome)


def round_pass_for(*, session_id: int, member_id: int, session: Session | None = None) -> None:
    """She was removed while it was her turn: she passes, so the round goes on.

    Runs inside the caller's transaction; takes the session row lock unless given `session`
    (already locked by the caller).
    """
    _turn_ends_for(
        session_id=session_id, member_id=member_id, outcome=PASSED, session=session, if_away=False
    )


def round_skip_if_away(*, session_id: int, member_id: int) -> None:
    """She left the room or stepped out: if it is her turn and she is not here on another
    connection either, she is skipped, so the round goes on. In the caller's transaction."""
    _turn_ends_for(
        session_id=session_id, member_id=member_id, outcome=SKIPPED, session=None, if_away=True
    )


@transaction.atomic
def round_start(*, actor: User, context: RoomContext, prompt: Any) -> None:
    """Start a round with everyone present (not the facilitators), in the order they came;
    whoever has stepped out is skipped when her turn comes."""
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
    present = room_present(session_id=session.pk)
    order = [entry["member_id"] for entry in present if entry["role"] != GroupRole.FACILITATOR]
    if not order:
        raise Conflict(_("Nobody is here to take part yet."), code="nobody_present")
    active = Round.objects.create(session=session, prompt=text, order=order)
    event_append(
        session=session,
        event=events.round_started(
            prompt=text, order=order, current=active.current, outcomes=active.outcomes
        ),
    )
    here = {e["member_id"] for e in present if e["status"] == PresenceStatus.HERE}
    if active.current not in here:
        _move_on(session=session, active=active, outcome=SKIPPED, here=here)
    audit_room(actor, "round.started", session, session, members=len(order))


@transaction.atomic
def round_take_turn(*, actor: User, context: RoomContext, passed: bool) -> None:
    """The member whose turn it is finishes it, or passes: no reason is asked."""
    participant_get(context)
    session = Session.objects.select_for_update().get(pk=context.session_id)
    active = active_round(session.pk, lock=True)
    if active is None or active.current != context.member_id:
        raise ApplicationError(_("It is not your turn."), code="not_your_turn")
    _move_on(session=session, active=active, outcome=PASSED if passed else DONE)


def _steer(actor: User, context: RoomContext, outcome: str) -> None:
    session = host_session(actor, context)
    active = active_round(session.pk, lock=True)
    if active is None:
        raise Conflict(_("There is no round going."), code="no_round")
    speaker = active.current
    _move_on(session=session, active=active, outcome=outcome)
    audit_room(actor, f"round.turn_{outcome}", session, session, member_id=speaker)


@transaction.atomic
def round_skip(*, actor: User, context: RoomContext) -> None:
    """A host skips the speaker (`round.skip`); the turn moves on."""
    _steer(actor, context, SKIPPED)


@transaction.atomic
def round_next(*, actor: User, context: RoomContext) -> None:
    """A host moves on to the next speaker (`round.next`): the current one is done."""
    _steer(actor, context, DONE)


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
