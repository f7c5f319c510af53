"""Catalogue test 10: a Hypothesis state machine over the live room (send, disconnect,
reconnect, hide, mute, remove); after every step each client's view is the log she may read.

Every example is a fresh live session of group A (`make_room` on one world), entered by up to
two tabs each of the facilitator, the co-host and two members, through the full
`project.asgi.application` on the real channel layer and database. Each tab behaves as
PROTOCOL.md asks a client to (and as `tests/e2e/conftest.py::RoomClient` does over real
sockets): it keeps the last `seq` it applied across its connections, `resume`s after it on every
(re)connect, applies a durable event only when its `seq` is the last one + 1 (ignoring copies),
and `history.hidden` moves it on to that `seq`.

Steps: the facilitator opens the room; then enter (a first entry or a reconnect), enter while
someone speaks (her resume overtaken by a live event), leave, say something (random short
text), say something while another tab drops without reading, a host (facilitator or co-host)
hides a message, mutes or unmutes a member (telling the room or not), the facilitator removes a
member who is in the room, a removed member knocks again. After every step, once deliveries
have settled (bounded waits):
- the log has no gap and is exactly what the steps wrote (types, acked messages, bodies, hidden);
- every connected tab's view (what she applied, a message's body gone once she applied its
  `message.hidden`) equals `selectors.session_log` for her (the REST log's selector:
  `log.events_replay` from where she may read, as she reads it), `history.hidden` included; and,
  checked apart from that code: a member reads nothing from before her first entry, bodies are
  what was said unless hidden, a mute names its member only to the hosts and to her;
- the server never sent a connection a `seq` past the next one outside a `resume`, and no
  connection got an error or a close it should not have;
- every notice a tab received is stored for her member (nobody receives another's private
  notice), and each connected tab holds all of her standing notices;
- a removed member's sockets all closed with 4403, nothing reached them after the close, what
  she applied ends at or before her removal, she cannot re-enter (4403) and the REST log
  answers her 403.
At the end of each example the REST events endpoint answers the same log as the selector (to
one persona per example, in turn) and 403 to every removed member. The run fails if some kind
of step never happened, so it cannot pass by doing nothing.

Bounded and repeatable: `derandomize` (HAVEN_STATEFUL_SEED picks another fixed seed), no
example database, EXAMPLES examples of at most STEPS steps, `deadline=None`. Shrinking is off
so that a failure is reported within seconds with its steps; HAVEN_STATEFUL_SHRINK=1 turns it
on to get a minimal sequence.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from facilitation import events, selectors
from facilitation.log import events_replay
from facilitation.models import Participant, PrivateNotice, Session
from facilitation.services import frame_limiter
from project.exceptions import Forbidden
from tests.conftest import World
from tests.facilitation.room import Client, ConnectionClosed, Room, amake_room, connect, make_room

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")

EXAMPLES = 15
STEPS = 12
TABS = 2
HOSTS = ("facilitator", "peer_mentor")
MEMBERS = ("member", "member2")
PERSONAS = HOSTS + MEMBERS
# A step is settled when every expectation it set is met; each wait is bounded.
SETTLE_SECONDS = 5.0
POLL_SECONDS = 0.005
# After settling, how long stray frames (copies, leaks, frames after a close) get to show.
QUIET_SECONDS = 0.01
FORBIDDEN = 4403
LOG_LIMIT = 10_000
STATEFUL_SEED = int(os.environ.get("HAVEN_STATEFUL_SEED", "0"))
SHRINK = os.environ.get("HAVEN_STATEFUL_SHRINK", "") == "1"

# Short text a member might say (any script, punctuation, spaces, emoji), never blank.
texts = st.builds(
    str.__add__,
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=23),
)


@dataclass(repr=False)
class Tab:
    """One browser tab of one member: a real client's state, across its connections."""

    persona: str
    index: int
    member_id: int
    client: Client | None = None
    last: int = 0
    hidden_until: int = 0
    resuming: bool = False
    applied: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)  # ack and error
    notices: dict[int, dict[str, Any]] = field(default_factory=dict)
    dismissed: set[int] = field(default_factory=set)
    # Connections the server closed, kept open on our side: nothing may reach them after.
    shut: list[Client] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    wire_last: int = 0  # the newest durable seq that reached her, applied or not
    copies: int = 0  # durable events she had already applied
    early: int = 0  # durable events she could not apply yet (before her resume's answer)

    @property
    def name(self) -> str:
        return f"{self.persona}#{self.index}"

    def __repr__(self) -> str:
        return f"<tab {self.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis reports a drawn tab: her name, not everything she received."""
        printer.text(repr(self))

    @property
    def connected(self) -> bool:
        return self.client is not None

    async def resume(self) -> None:
        assert self.client is not None
        self.resuming = True
        await self.client.send(type="resume", after_seq=self.last)

    async def handle(self, event: dict[str, Any]) -> None:
        """Apply one event as a client that follows PROTOCOL.md does."""
        kind = event["type"]
        if kind == "history.hidden":
            self.hidden_until = max(self.hidden_until, event["seq"])
            self.last = max(self.last, event["seq"])
        elif kind in {"ack", "error"}:
            self.replies.append(event)
        elif "seq" in event:
            seq = event["seq"]
            self.wire_last = seq
            if seq <= self.last:
                self.copies += 1
            elif seq == self.last + 1:
                self.last = seq
                self.applied.append(event)
            elif self.resuming:
                self.early += 1
            else:
                # The server fills gaps before forwarding: outside a resume, none may show.
                self.violations.append(f"got seq {seq} after {self.last}, outside a resume")
                await self.resume()
        elif kind == "resume.done":
            self.resuming = False
            if event["last_seq"] > self.last:
                await self.resume()
        elif kind == "notice":
            self.notices[event["notice_id"]] = event
        elif kind == "notice.dismissed":
            self.dismissed.add(event["notice_id"])
        elif kind not in {"presence", "heartbeat", "session.state"}:
            self.violations.append(f"unexpected event {event}")

    def view(self) -> list[dict[str, Any]]:
        """What she shows: the events she applied, a message's body gone once it was hidden."""
        hidden = {e["message_id"] for e in self.applied if e["type"] == "message.hidden"}
        return [
            {**e, "body": None, "hidden": True}
            if e["type"] == "message" and e["message_id"] in hidden
            else e
            for e in self.applied
        ]

    def take_reply(self, ref: str) -> dict[str, Any] | None:
        for reply in self.replies:
            if reply.get("client_id") == ref or reply.get("ref") == ref:
                self.replies.remove(reply)
                return reply
        return None


@dataclass
class Said:
    """A message the room acked: where it is in the log, who said what."""

    seq: int
    author: str
    body: str
    client_id: str


@dataclass
class Expect:
    """What the current step waits for before the views are compared."""

    replies: list[tuple[Tab, str]] = field(default_factory=list)  # (tab, client_id)
    closes: list[Tab] = field(default_factory=list)
    speaker: tuple[Tab, str, str, str] | None = None  # tab, client_id, body, muted or not


def db_read(session_id: int, world: World, readers: set[str]) -> dict[str, Any]:
    """Everything the invariant compares with, read in one go (sync); the log as each of
    `readers` may read it."""
    members = {persona: world.members[persona] for persona in PERSONAS}
    session = Session.objects.get(pk=session_id)
    first_seq = dict(
        Participant.objects.filter(session_id=session_id).values_list("membership_id", "first_seq")
    )
    host = members["facilitator"]
    full = events_replay(
        session_id=session_id,
        after_seq=0,
        limit=LOG_LIMIT,
        reader=events.Reader(member_id=host.pk, is_host=True),
    )
    readable: dict[str, list[dict[str, Any]] | None] = {}
    for persona in sorted(readers):
        membership = members[persona]
        try:
            readable[persona] = selectors.session_log(
                viewer=membership.user, session=session, after_seq=0, limit=LOG_LIMIT
            )
        except Forbidden:
            readable[persona] = None
    # A removed member's log as she could read it while she was in (for what she applied).
    before_removal = {}
    for persona in MEMBERS:
        if persona in readable and readable[persona] is None:
            before_removal[persona] = events_replay(
                session_id=session_id,
                after_seq=0,
                limit=LOG_LIMIT,
                history_after=first_seq[members[persona].pk],
                reader=events.Reader(member_id=members[persona].pk, is_host=False),
            )
    return {
        "last_seq": session.last_seq,
        "log": full,
        "readable": readable,
        "before_removal": before_removal,
        "recipients": dict(
            PrivateNotice.objects.filter(session_id=session_id).values_list("pk", "recipient_id")
        ),
        "standing": db_standing(session_id, world, readers),
        "first_seq": first_seq,
    }


def db_standing(session_id: int, world: World, personas: set[str]) -> dict[str, set[int]]:
    """The standing notices in the session of each of `personas` (sync)."""
    return {
        persona: {
            notice["notice_id"]
            for notice in selectors.notices_active(
                session_id=session_id, member_id=world.members[persona].pk
            )
        }
        for persona in personas
    }


def rest_log(world: World, persona: str, session_id: int) -> tuple[int, Any]:
    answer = world.client(persona).get(
        f"/api/v1/sessions/{session_id}/events/?after_seq=0&limit=500"
    )
    return answer.status_code, json.loads(answer.content)


def without_marker(log: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """(the seq of its `history.hidden` marker or 0, the events after it)."""
    if log and log[0]["type"] == "history.hidden":
        return log[0]["seq"], log[1:]
    return 0, log


def brief(log: list[dict[str, Any]]) -> list[tuple[int, str, Any]]:
    return [(e["seq"], e["type"], e.get("message_id")) for e in log]


class RoomMachine(RuleBasedStateMachine):
    """The room and its clients; `machine_for` binds it to one world and one event loop."""

    world: ClassVar[World]
    loop: ClassVar[asyncio.AbstractEventLoop]
    totals: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        self.room: Room = self.run(database_sync_to_async(make_room)(world=self.world))
        self.session_id = self.room.session.pk
        self.last_seq = self.room.session.last_seq
        self.kinds: dict[int, str] = {}  # seq -> type, as the steps wrote them
        self.said: dict[int, Said] = {}  # message_id -> what was said
        self.hidden: set[int] = set()
        self.muted: set[str] = set()
        self.removed: dict[str, int] = {}  # persona -> seq of her removal
        self.first_seq: dict[str, int] = {}  # member persona -> last_seq at her first entry
        self.authored: dict[str, set[int]] = {persona: set() for persona in PERSONAS}
        self.tabs = [
            Tab(persona=persona, index=index, member_id=self.room.member_id(persona))
            for persona in PERSONAS
            for index in range(TABS)
        ]
        self.expect = Expect()
        self.healthy = True
        self.totals["examples"] += 1

    # --- plumbing --------------------------------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine on the test's event loop (Hypothesis runs in a worker thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def tabs_where(self, *, connected: bool, personas: tuple[str, ...] = PERSONAS) -> list[Tab]:
        return [
            tab
            for tab in self.tabs
            if tab.connected == connected
            and tab.persona in personas
            and tab.persona not in self.removed
        ]

    def member_id(self, persona: str) -> int:
        return self.room.member_id(persona)

    def appended(self, kind: str) -> int:
        self.last_seq += 1
        self.kinds[self.last_seq] = kind
        self.totals[kind] += 1
        if any(tab.shut for tab in self.tabs if tab.persona in self.removed):
            self.totals["events after a removal, her socket listening"] += 1
        return self.last_seq

    async def pump(self, tab: Tab) -> None:
        """Read (and apply) whatever has reached this tab, without waiting."""
        while tab.client is not None and not await tab.client.comm.receive_nothing(0):
            try:
                event = await tab.client.next(1)
            except ConnectionClosed as closed:
                tab.close_codes.append(closed.code)
                tab.shut.append(tab.client)
                tab.client = None
                tab.resuming = False
                if tab.persona not in self.removed or closed.code != FORBIDDEN:
                    tab.violations.append(f"closed with {closed.code}")
                return
            await tab.handle(event)
        for gone in tab.shut:
            while not await gone.comm.receive_nothing(0):
                output = await gone.comm.receive_output(1)
                tab.violations.append(f"after its close the socket got {output}")

    def waiting_for(self) -> list[str]:
        waiting = []
        for tab in self.tabs:
            if tab.connected and tab.resuming:
                waiting.append(f"{tab.name} resuming")
            if tab.connected and tab.last < self.last_seq:
                waiting.append(f"{tab.name} at seq {tab.last} of {self.last_seq}")
        for tab, client_id in self.expect.replies:
            if not any(r.get("client_id", r.get("ref")) == client_id for r in tab.replies):
                waiting.append(f"{tab.name}: an answer to {client_id}")
        waiting += [f"{tab.name}: a close" for tab in self.expect.closes if tab.connected]
        return waiting

    async def settle(self) -> None:
        """Wait (bounded) until the step's expectations are met, then a little longer for
        anything that should not come."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while True:
            for tab in self.tabs:
                await self.pump(tab)
            waiting = self.waiting_for()
            if not waiting:
                break
            if loop.time() > deadline:
                stray = {t.name: t.replies + t.violations for t in self.tabs if t.replies}
                raise AssertionError(
                    f"not settled within {SETTLE_SECONDS}s: {waiting}; answers, problems: {stray}"
                )
            await asyncio.sleep(POLL_SECONDS)
        await asyncio.sleep(QUIET_SECONDS)
        for tab in self.tabs:
            await self.pump(tab)

    async def standing_notices(self, standing: dict[str, set[int]]) -> None:
        """Wait (bounded) until each connected tab holds her member's standing notices (they
        are sent after commit, beside the durable event the step waited for)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while True:
            missing = [
                (tab.name, standing[tab.persona] - set(tab.notices))
                for tab in self.tabs
                if tab.connected and standing[tab.persona] - set(tab.notices)
            ]
            if not missing:
                return
            if loop.time() > deadline:
                raise AssertionError(f"standing notices never arrived: {missing}")
            await asyncio.sleep(POLL_SECONDS)
            for tab in self.tabs:
                await self.pump(tab)
            standing = await database_sync_to_async(db_standing)(
                self.session_id, self.world, set(standing)
            )

    def step(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """One step: frame limits fresh (tested elsewhere; here they would only cut the
        machine short), the step's frames, then its answers."""
        frame_limiter.seen.clear()
        self.totals["steps"] += 1
        self.run(coroutine)

    # --- steps -----------------------------------------------------------------------------

    @initialize(data=st.data())
    def the_facilitator_opens_the_room(self, data: st.DataObject) -> None:
        """The facilitator is in first, as in a real session (and some rule is always possible
        even when Hypothesis switches a few of them off for an example)."""
        tabs = self.tabs_where(connected=False, personas=("facilitator",))
        self.step(self._enter(data.draw(st.sampled_from(tabs), label="tab")))

    @precondition(lambda self: self.tabs_where(connected=False))
    @rule(data=st.data())
    def enter(self, data: st.DataObject) -> None:
        """A tab opens a connection (her first, or again) and resumes after its last seq."""
        tab = data.draw(st.sampled_from(self.tabs_where(connected=False)), label="tab")
        self.step(self._enter(tab))

    async def _enter(
        self, tab: Tab, *, meanwhile: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Connect, then resume after her last seq; `meanwhile` runs in between and its
        event reaches her before the resume does."""
        client, state = await connect(self.session_id, self.world.tokens[tab.persona])
        assert state is not None, f"{tab.name} was refused with {client.close_code}"
        if tab.persona in MEMBERS:
            self.first_seq.setdefault(tab.persona, state["last_seq"])
        tab.client, tab.wire_last = client, state["last_seq"]
        # She resumes at once: until its answer, an event she cannot apply yet waits for it.
        tab.resuming = True
        self.totals["reconnect" if tab.close_codes or tab.applied else "enter"] += 1
        if meanwhile is not None:
            await meanwhile()
            await self.until_on_the_wire(tab, max(self.last_seq, state["last_seq"]))
        await tab.resume()

    async def until_on_the_wire(self, tab: Tab, seq: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while tab.connected and tab.wire_last < seq:
            if loop.time() > deadline:
                raise AssertionError(f"{tab.name}: seq {seq} never came live")
            await asyncio.sleep(POLL_SECONDS)
            await self.pump(tab)

    @precondition(lambda self: self.tabs_where(connected=True) and self.tabs_where(connected=False))
    @rule(data=st.data(), body=texts)
    def enter_while_someone_speaks(self, data: st.DataObject, body: str) -> None:
        """A tab comes in while a message is on its way: live events may overtake her resume
        (she ignores what she cannot apply yet; the replay brings it again)."""
        speaker = data.draw(st.sampled_from(self.tabs_where(connected=True)), label="speaker")
        tab = data.draw(st.sampled_from(self.tabs_where(connected=False)), label="tab")
        self.step(self._enter(tab, meanwhile=lambda: self._say(speaker, body)))

    @precondition(lambda self: self.tabs_where(connected=True))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        tab = data.draw(st.sampled_from(self.tabs_where(connected=True)), label="tab")
        self.step(self._leave(tab))

    async def _leave(self, tab: Tab) -> None:
        assert tab.client is not None
        await tab.client.close()
        tab.client, tab.resuming = None, False
        tab.close_codes.append(None)
        self.totals["leave"] += 1

    @precondition(lambda self: self.tabs_where(connected=True))
    @rule(data=st.data(), body=texts)
    def say(self, data: st.DataObject, body: str) -> None:
        tab = data.draw(st.sampled_from(self.tabs_where(connected=True)), label="tab")
        self.step(self._say(tab, body))

    @precondition(lambda self: len(self.tabs_where(connected=True)) >= 2)
    @rule(data=st.data(), body=texts)
    def say_while_another_tab_drops(self, data: st.DataObject, body: str) -> None:
        """Someone speaks and, before it reaches her, another tab loses its connection."""
        speaker = data.draw(st.sampled_from(self.tabs_where(connected=True)), label="speaker")
        others = [tab for tab in self.tabs_where(connected=True) if tab is not speaker]
        dropper = data.draw(st.sampled_from(others), label="dropper")
        self.step(self._say(speaker, body, then=lambda: self._leave(dropper)))

    async def _say(
        self, tab: Tab, body: str, *, then: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """She sends a message; `then` runs at once, while it is on its way."""
        assert tab.client is not None
        client_id = await tab.client.say(body)
        if then is not None:
            await then()
        self.expect.replies.append((tab, client_id))
        self.expect.speaker = (tab, client_id, body, "muted" if tab.persona in self.muted else "")
        if tab.persona not in self.muted:
            self.appended("message")

    def host_tabs(self, *personas: str) -> list[Tab]:
        return self.tabs_where(connected=True, personas=personas or HOSTS)

    async def command(self, tab: Tab, **frame: Any) -> None:
        """A host's command; it has no answer of its own unless it is refused."""
        assert tab.client is not None
        await tab.client.send(client_id=str(uuid.uuid4()), **frame)

    @precondition(lambda self: self.host_tabs() and set(self.said) - self.hidden)
    @rule(data=st.data())
    def hide(self, data: st.DataObject) -> None:
        host = data.draw(st.sampled_from(self.host_tabs()), label="host")
        message_id = data.draw(
            st.sampled_from(sorted(set(self.said) - self.hidden)), label="message"
        )
        self.hidden.add(message_id)
        self.appended("message.hidden")
        self.step(self.command(host, type="message.hide", message_id=message_id, reason="Too much"))

    def targets(self) -> list[str]:
        return [persona for persona in MEMBERS if persona not in self.removed]

    @precondition(lambda self: self.host_tabs() and self.targets())
    @rule(data=st.data(), minutes=st.integers(1, 120), tell_room=st.booleans())
    def mute(self, data: st.DataObject, minutes: int, tell_room: bool) -> None:
        host = data.draw(st.sampled_from(self.host_tabs()), label="host")
        target = data.draw(st.sampled_from(self.targets()), label="target")
        self.muted.add(target)
        self.appended("member.muted")
        frame = {"member_id": self.member_id(target), "minutes": minutes, "reason": "Pause"}
        self.step(self.command(host, type="member.mute", tell_room=tell_room, **frame))

    @precondition(lambda self: self.host_tabs() and self.muted - set(self.removed))
    @rule(data=st.data())
    def unmute(self, data: st.DataObject) -> None:
        host = data.draw(st.sampled_from(self.host_tabs()), label="host")
        target = data.draw(st.sampled_from(sorted(self.muted - set(self.removed))), label="target")
        self.muted.discard(target)
        self.appended("member.unmuted")
        self.step(self.command(host, type="member.unmute", member_id=self.member_id(target)))

    def in_the_room(self) -> list[str]:
        return [p for p in self.targets() if self.tabs_where(connected=True, personas=(p,))]

    @precondition(lambda self: self.host_tabs("facilitator") and self.in_the_room())
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """The facilitator removes a member who is in the room (one tab or two)."""
        host = data.draw(st.sampled_from(self.host_tabs("facilitator")), label="facilitator")
        target = data.draw(st.sampled_from(self.in_the_room()), label="target")
        self.expect.closes = self.tabs_where(connected=True, personas=(target,))
        self.removed[target] = self.appended("member.removed")
        frame = {"member_id": self.member_id(target), "reason": "Pressure on others"}
        self.step(self.command(host, type="member.remove", **frame))

    @precondition(lambda self: self.removed)
    @rule(data=st.data())
    def removed_member_knocks(self, data: st.DataObject) -> None:
        persona = data.draw(st.sampled_from(sorted(self.removed)), label="removed")
        self.step(self._knock(persona))

    async def _knock(self, persona: str) -> None:
        client, state = await connect(self.session_id, self.world.tokens[persona])
        await client.close()
        assert state is None, f"{persona} came back in after her removal"
        assert client.close_code == FORBIDDEN, client.close_code
        self.totals["knock"] += 1

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def every_view_is_the_log_she_may_read(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        self.healthy = False
        await self.settle()
        expect, self.expect = self.expect, Expect()
        if expect.speaker is not None:
            self.check_reply(*expect.speaker)
        db = await self.db_read()
        await self.standing_notices(db["standing"])
        self.check_log(db)
        for tab in self.tabs:
            self.check_tab(tab, db)
        self.healthy = True

    async def db_read(self, readers: set[str] | None = None) -> dict[str, Any]:
        """The database's side, as read by each persona with a tab connected (and by every
        removed one, who may read nothing)."""
        if readers is None:
            readers = {tab.persona for tab in self.tabs if tab.connected} | set(self.removed)
        return await database_sync_to_async(db_read)(self.session_id, self.world, readers)

    def check_reply(self, tab: Tab, client_id: str, body: str, muted: str) -> None:
        reply = tab.take_reply(client_id)
        assert reply is not None
        if muted:
            assert (reply["type"], reply["code"]) == ("error", "muted"), reply
            return
        assert reply["type"] == "ack", reply
        assert reply["seq"] == self.last_seq, (reply, self.last_seq)
        self.said[reply["message_id"]] = Said(reply["seq"], tab.persona, body, client_id)
        self.authored[tab.persona].add(reply["message_id"])

    def check_log(self, db: dict[str, Any]) -> None:
        """The log is exactly what the steps wrote, with no gap."""
        log = db["log"]
        assert db["last_seq"] == self.last_seq, (db["last_seq"], self.last_seq)
        assert [e["seq"] for e in log] == list(range(1, self.last_seq + 1)), "the log has a gap"
        assert {e["seq"]: e["type"] for e in log if e["seq"] in self.kinds} == self.kinds
        for event in log:
            if event["type"] != "message":
                continue
            said = self.said[event["message_id"]]
            hidden = event["message_id"] in self.hidden
            assert event["seq"] == said.seq
            assert event["client_id"] == said.client_id
            assert event["author"]["member_id"] == self.member_id(said.author)
            assert (event["body"], event["hidden"]) == (None if hidden else said.body, hidden)

    def check_tab(self, tab: Tab, db: dict[str, Any]) -> None:
        assert not tab.violations, f"{tab.name}: {tab.violations}"
        assert not tab.replies, f"{tab.name} got answers nobody asked for: {tab.replies}"
        for notice_id in set(tab.notices) | tab.dismissed:
            recipient = db["recipients"].get(notice_id)
            assert recipient == tab.member_id, f"{tab.name} got notice {notice_id} of {recipient}"
        for notice in tab.notices.values():
            if notice["code"] == "message_hidden":
                assert notice["message_id"] in self.authored[tab.persona], notice
        if tab.persona in self.removed:
            self.check_removed(tab, db)
            return
        if not tab.connected:
            return
        readable = db["readable"][tab.persona]
        assert readable is not None, f"{tab.name} may not read the log"
        marker, visible = without_marker(readable)
        assert (tab.hidden_until, tab.view()) == (marker, visible), tab.name
        # The same, apart from the code that builds the log:
        if tab.persona in MEMBERS:
            first = self.first_seq[tab.persona]
            assert db["first_seq"][tab.member_id] == first
            assert tab.hidden_until == first
            assert all(e["seq"] > first for e in tab.applied), tab.name
        for event in tab.view():
            if event["type"] == "message":
                said = self.said[event["message_id"]]
                hidden = event["message_id"] in self.hidden
                assert event["body"] == (None if hidden else said.body), (tab.name, event)
            if event["type"] in {"member.muted", "member.unmuted"}:
                if tab.persona in MEMBERS and event["member_id"] != tab.member_id:
                    assert (event["member_id"], event["until"]) == (None, None), (tab.name, event)
                if tab.persona in HOSTS:
                    assert event["member_id"] is not None, (tab.name, event)

    def check_removed(self, tab: Tab, db: dict[str, Any]) -> None:
        removed_at = self.removed[tab.persona]
        assert db["readable"][tab.persona] is None, f"{tab.name} may still read the log"
        assert not tab.connected, f"{tab.name} is still connected after her removal"
        assert all(e["seq"] <= removed_at for e in tab.applied), tab.name
        _marker, before = without_marker(db["before_removal"][tab.persona])
        assert brief(tab.applied) == brief(before)[: len(tab.applied)], tab.name

    # --- end of an example -----------------------------------------------------------------

    def teardown(self) -> None:
        try:
            # Only after a step that passed: a failure is reported as it happened.
            if self.healthy:
                self.run(self._rest_answers())
        finally:
            self.run(self._close_all())

    async def _rest_answers(self) -> None:
        """The REST events endpoint answers the same log: for one persona per example (in
        turn; each answer costs a whole request) and for every removed member (403)."""
        readers = {PERSONAS[self.totals["examples"] % len(PERSONAS)], *self.removed}
        db = await self.db_read(readers)
        for persona in sorted(readers):
            status, page = await database_sync_to_async(rest_log)(
                self.world, persona, self.session_id
            )
            if persona in self.removed:
                assert status == 403, (persona, status, page)
                continue
            assert status == 200, (persona, status, page)
            assert page["results"] == db["readable"][persona], persona

    async def _close_all(self) -> None:
        for tab in self.tabs:
            self.totals["copies ignored"] += tab.copies
            self.totals["early events ignored"] += tab.early
            for client in [tab.client, *tab.shut]:
                if client is not None:
                    await client.close()
            tab.client, tab.shut = None, []


def machine_for(
    world: World, loop: asyncio.AbstractEventLoop, totals: Counter[str]
) -> type[RoomMachine]:
    return type("Room", (RoomMachine,), {"world": world, "loop": loop, "totals": totals})


async def test_every_clients_view_is_the_log_she_may_read_whatever_the_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Members speak far more often than people do; the flood limit (8 in 10 s, counted in
    # the database across sessions) is tested elsewhere and would only stop the machine.
    monkeypatch.setattr("facilitation.services.messages.RATE_LIMIT_MESSAGES", 10_000)
    room = await amake_room()
    totals: Counter[str] = Counter()
    machine = machine_for(room.world, asyncio.get_running_loop(), totals)
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])]
    config = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=STATEFUL_SEED == 0,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )

    if STATEFUL_SEED:
        machine = seed(STATEFUL_SEED)(machine)
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)

    print(f"state machine: {dict(sorted(totals.items()))}")
    # Not vacuous: every kind of step ran, and reconnects caught up across what they missed.
    for kind in (
        "message",
        "message.hidden",
        "member.muted",
        "member.removed",
        "events after a removal, her socket listening",
        "reconnect",
        "early events ignored",
    ):
        assert totals[kind] > 0, f"no {kind} in {EXAMPLES} examples: {totals}"
