"""How often a member may send each kind of frame to the room (besides `message.send`, whose
limit is counted in the database: `services.messages`).

Every frame reaches other people or the database: 400 `presence.set` frames reached every
member, 200 `support.request` frames reached the hosts and wrote 200 audit rows. So each kind
has a per-member window, stricter for the ones that reach others without a host deciding. The
windows are kept per server process, keyed by member (all her connections to this process
share them); with at most `room.SOCKETS_PER_MEMBER` connections per member, what she can send
across processes stays bounded too. A refused frame is answered `rate_limited` and changes
nothing.
"""

from __future__ import annotations

import collections
import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from facilitation.services.messages import rate_limited

logger = logging.getLogger("facilitation.security")


class Limit(NamedTuple):
    count: int
    window: timedelta


MINUTE = timedelta(minutes=1)
HOST_ACTIONS = Limit(60, MINUTE)
FRAME_LIMITS: dict[str, Limit] = {
    # Reaches every host at once; one request is enough for them to act on.
    "support.request": Limit(3, MINUTE),
    # Reaches every member of the room.
    "presence.set": Limit(10, MINUTE),
    "round.pass": Limit(10, MINUTE),
    "round.done": Limit(10, MINUTE),
    # Reaches the hosts; she answers twice a session at most.
    "checkin.set": Limit(10, MINUTE),
    # Reaches her own tabs only.
    "checkin.skip": Limit(10, MINUTE),
    # Reaches the hosts (or one member): a conversation, not a flood.
    "private.send": Limit(30, MINUTE),
    # Reaches her own tabs only; a few cards at a time.
    "notice.dismiss": Limit(30, MINUTE),
    # Each replays the log from the database (one at a time per connection besides).
    "resume": Limit(12, MINUTE),
    "message.hide": HOST_ACTIONS,
    "message.set_warning": HOST_ACTIONS,
    "member.mute": HOST_ACTIONS,
    "member.unmute": HOST_ACTIONS,
    "member.remove": HOST_ACTIONS,
    "session.set_status": HOST_ACTIONS,
    "round.start": HOST_ACTIONS,
    "round.end": HOST_ACTIONS,
    "round.skip": HOST_ACTIONS,
    "round.next": HOST_ACTIONS,
    "support.seen": HOST_ACTIONS,
    "support.take": HOST_ACTIONS,
    "support.close": HOST_ACTIONS,
}


# Windows nobody has used for this long are dropped (every SWEEP_EVERY frames), so memory
# follows the members active now. Reconnecting does not reset a window.
IDLE = max(limit.window for limit in FRAME_LIMITS.values())
SWEEP_EVERY = 4096


class FrameLimiter:
    """Sliding windows of one process: (member, kind) → when her recent frames came."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str], collections.deque[datetime]] = {}
        self.checks = 0

    def check(self, member_id: int, kind: str, now: datetime) -> None:
        """Count a frame of `kind` from this member, or raise `rate_limited` (not counted)."""
        limit = FRAME_LIMITS.get(kind)
        if limit is None:
            return
        self.checks += 1
        if self.checks % SWEEP_EVERY == 0:
            self._sweep(now)
        key = (member_id, kind)
        recent = self.seen.setdefault(key, collections.deque())
        horizon = now - limit.window
        while recent and recent[0] <= horizon:
            recent.popleft()
        if len(recent) >= limit.count:
            raise rate_limited()
        recent.append(now)

    def _sweep(self, now: datetime) -> None:
        idle = [key for key, recent in self.seen.items() if not recent or recent[-1] <= now - IDLE]
        for key in idle:
            del self.seen[key]


# One per process: the room's connections all run on its one event loop.
frame_limiter = FrameLimiter()


# A connection that keeps sending after being told to wait is not a person tapping fast: after
# this many refusals within a minute it is closed (4429, "too many"). A person sending as fast
# as her thumbs allow meets the limits a few times, never this.
FLOOD_CLOSE_AFTER = 40


class Refusals:
    """One connection's `rate_limited` answers within the last minute.

    The first refusal of a burst is logged as a security event, and so is the close; both
    carry ids and the frame kind only, never what the frame said.
    """

    def __init__(self, *, session_id: int, member_id: int) -> None:
        self.session_id = session_id
        self.member_id = member_id
        # A list, not a deque: at most FLOOD_CLOSE_AFTER entries, and an empty deque costs
        # 760 bytes on every idle connection (docs/performance.md, S4 memory).
        self.times: list[datetime] = []

    def refused(self, kind: str, now: datetime) -> bool:
        """Count one refusal; True when the connection should now be closed for flooding."""
        while self.times and self.times[0] <= now - MINUTE:
            del self.times[0]
        if not self.times:
            logger.warning(
                "room: rate limited kind=%s member=%s session=%s",
                kind,
                self.member_id,
                self.session_id,
            )
        self.times.append(now)
        if len(self.times) < FLOOD_CLOSE_AFTER:
            return False
        logger.warning(
            "room: closed for flooding member=%s session=%s refusals=%d in a minute",
            self.member_id,
            self.session_id,
            len(self.times),
        )
        return True
