"""Restart storms (issue 20): every member of a process reconnects at once, as room.js does.

S7 stops the one server process as a deploy does (SIGTERM) and starts a new one on the same
port; S7b kills one of two processes (SIGKILL) and its members land on the other. During a
steady S1 chat, each dropped client reconnects on room.js's own schedule (`room_backoff` reads
it from frontend/static/frontend/room.js: one spelling of the numbers) and resumes from the last
`seq` it saw. Reported: seconds until 50, 99 and 100 % of the dropped members are back
(`session.state`) and resumed (`resume.done`), counted from the new process accepting
connections and from the stop; server CPU from then until all are back; every refused or failed
attempt by reason; loss and duplicates; the chat's p99 during the storm and after it.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from loadgen import Client, CpuMeter, Generator, Refused, percentile

ROOM_JS = Path(__file__).resolve().parent.parent / "frontend" / "static" / "frontend" / "room.js"
# room.js's FINAL close codes: after these it does not reconnect, and neither does a member here.
FINAL_CODES = frozenset({4401, 4403, 4404, 4409, 4410, 4429})


@dataclass(frozen=True)
class Backoff:
    """room.js's reconnect delay, full jitter: a wait drawn at random between `floor_ms` and
    min(cap, base * 2 ** attempt) (issue 20)."""

    floor_ms: int
    base_ms: int
    cap_ms: int

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempt` + 1, as room.js's `backoff`."""
        ceiling = min(self.cap_ms, self.base_ms * 2**attempt)
        return (self.floor_ms + rng.random() * max(0, ceiling - self.floor_ms)) / 1000

    def describe(self) -> str:
        return (
            f"room.js: full jitter, {self.floor_ms} ms to "
            f"min({self.cap_ms}, {self.base_ms} * 2^attempt) ms"
        )


_CONSTANT = re.compile(r"var RECONNECT_(?P<name>FLOOR|BASE|CAP)_MS = (?P<ms>\d+);")
# The call and the formula as room.js spells them; any other spelling stops the storm.
_DELAY = "var delay = backoff(state.attempts, RECONNECT_CAP_MS);"
_FORMULA = re.compile(
    r"function backoff\(attempt, cap\) \{\s*"
    r"var ceiling = Math\.min\(cap, RECONNECT_BASE_MS \* Math\.pow\(2, attempt\)\);\s*"
    r"return RECONNECT_FLOOR_MS \+ Math\.random\(\) \* "
    r"Math\.max\(0, ceiling - RECONNECT_FLOOR_MS\);\s*\}"
)


def room_backoff(source: str | None = None) -> Backoff:
    """The reconnect schedule of room.js: its RECONNECT_FLOOR_MS, RECONNECT_BASE_MS and
    RECONNECT_CAP_MS, after checking that its `backoff` is still the full-jitter formula
    `Backoff.delay` computes and that the reconnect delay is `backoff(state.attempts,
    RECONNECT_CAP_MS)`. Anything else raises: the storm must not run on a schedule room.js no
    longer has (tests/bench checks this against the shipped file).
    """
    text = ROOM_JS.read_text() if source is None else source
    if _DELAY not in text:
        raise RuntimeError(f"room.js: no `{_DELAY}` to read the schedule from")
    if _FORMULA.search(text) is None:
        raise RuntimeError("room.js: reconnect delay not understood: `function backoff` changed")
    found: dict[str, int] = {}
    for match in _CONSTANT.finditer(text):
        if match["name"] in found:
            raise RuntimeError(f"room.js: RECONNECT_{match['name']}_MS set twice")
        found[match["name"]] = int(match["ms"])
    missing = {"FLOOR", "BASE", "CAP"} - found.keys()
    if missing:
        raise RuntimeError(f"room.js: reconnect delay not understood: no {sorted(missing)}")
    return Backoff(found["FLOOR"], found["BASE"], found["CAP"])


@dataclass
class Storm:
    """One storm's bookkeeping (monotonic seconds)."""

    members: int
    down_at: float
    up_at: float | None = None
    # The dropped members (ids of their `Client`); anyone else who drops meanwhile (a
    # survivor's connection the storm cost) comes back too, counted in `others`.
    victims: set[int] = field(default_factory=set)
    others: int = 0
    back_at: list[float] = field(default_factory=list)
    resumed_at: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)

    def done(self) -> bool:
        return len(self.resumed_at) + sum(self.gave_up.values()) >= self.members

    def report(self) -> dict[str, Any]:
        def share(times: list[float], q: float, origin: float | None) -> float | None:
            need = max(1, int(-(-q * self.members // 1)))  # ceil: 99 % of 2,000 is 1,980
            if origin is None or len(times) < need:
                return None
            return round(sorted(times)[need - 1] - origin, 2)

        out: dict[str, Any] = {
            "members": self.members,
            "back": len(self.back_at),
            "resumed": len(self.resumed_at),
            "down_to_up_s": round(self.up_at - self.down_at, 2) if self.up_at else None,
            "others_dropped": self.others,
        }
        for label, times in (("back", self.back_at), ("resumed", self.resumed_at)):
            for q in (0.5, 0.99, 1.0):
                key = f"{label}_{round(q * 100)}pct"
                out[f"{key}_after_up_s"] = share(times, q, self.up_at)
                out[f"{key}_after_down_s"] = share(times, q, self.down_at)
        out["failed_attempts"] = dict(self.failures)
        out["gave_up"] = dict(self.gave_up)
        return out


async def come_back(
    gen: Generator,
    client: Client,
    storm: Storm,
    backoff: Backoff,
    rng: random.Random,
    deadline: float,
) -> None:
    """What room.js does after an unexpected close: wait its delay, reconnect, resume; a
    longer delay after each failure; stop at a final close code."""
    client.busy = True
    attempt = 0
    mine = id(client) in storm.victims
    if not mine:
        storm.others += 1
    try:
        while not gen.stopping:
            await asyncio.sleep(backoff.delay(attempt, rng))
            attempt += 1
            if time.monotonic() > deadline:
                if mine:
                    storm.gave_up["deadline"] += 1
                return
            try:
                await client.open(
                    resume=True,
                    timeout=max(1.0, deadline - time.monotonic()),
                    on_state=(lambda: storm.back_at.append(time.monotonic())) if mine else None,
                )
            except Refused as refused:
                client.replaying = False
                storm.failures[f"close {refused.code}"] += 1
                if refused.code in FINAL_CODES:
                    if mine:
                        storm.gave_up[f"close {refused.code}"] += 1
                    return
                continue
            except ConnectionRefusedError:
                storm.failures["connection refused"] += 1
                continue
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                client.replaying = False
                storm.failures[type(exc).__name__] += 1
                continue
            if mine:
                storm.resumed_at.append(time.monotonic())
            gen.counters["reconnects"] += 1
            return
    finally:
        client.busy = False


async def restart_storm(
    gen: Generator,
    *,
    warm: float,
    before: float,
    after: float,
    limit: float,
    drain: float,
    victims: list[Client],
    bring_down: Callable[[], None],
    bring_up: Callable[[], None] | None,
    server_roles: tuple[str, ...] = ("server", "redis", "postgres"),
    seed: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Steady chat; `bring_down()` (in a thread) drops `victims`; `bring_up()` (in a thread,
    S7) starts the replacement; everyone comes back on room.js's schedule; chat goes on for
    `after` seconds once all are back (or `limit` seconds passed)."""
    import loadgen

    backoff = room_backoff()
    rng = random.Random(seed)
    groups = sorted(gen.groups)
    stop_chat = asyncio.Event()
    chat = asyncio.create_task(
        loadgen.steady(
            gen, groups, period=2.0, seconds=warm + before + limit + after, until=stop_chat
        )
    )
    await asyncio.sleep(warm)
    w = gen.begin()
    await asyncio.sleep(before)
    storm = Storm(members=len(victims), down_at=time.monotonic(), victims={id(c) for c in victims})
    deadline = storm.down_at + limit
    gen.reconnector = lambda client: come_back(gen, client, storm, backoff, rng, deadline)
    during_from = len(w.latencies)
    await asyncio.to_thread(bring_down)
    if bring_up is not None:
        await asyncio.to_thread(bring_up)
    storm.up_at = time.monotonic()
    cpu_up = gen.cpu.snapshot() if gen.cpu else {}
    while not storm.done() and time.monotonic() < deadline + 1:
        await asyncio.sleep(0.05)
    storm_s = time.monotonic() - storm.up_at
    cpu_back = gen.cpu.snapshot() if gen.cpu else {}
    during_to = len(w.latencies)
    await asyncio.sleep(after)
    stop_chat.set()
    gen.end(w)
    await chat
    gen.reconnector = None
    await gen.drain(w, drain)
    out = gen.report(w)
    out["storm"] = storm.report()
    out["storm"]["reconnect_schedule"] = backoff.describe()
    cpu = CpuMeter.delta(cpu_up, cpu_back) if cpu_up else {}
    out["storm"]["cpu_s_up_to_all_back"] = {k: round(v, 3) for k, v in cpu.items()}
    out["storm"]["server_side_cpu_share"] = (
        round(sum(v for k, v in cpu.items() if k in server_roles) / storm_s, 2)
        if storm_s > 0
        else None
    )
    during = sorted(w.latencies[during_from:during_to])
    later = sorted(w.latencies[during_to:])
    out["storm"]["p99_during_ms"] = round(percentile(during, 0.99) / 1e6, 1) if during else None
    out["storm"]["p99_after_ms"] = round(percentile(later, 0.99) / 1e6, 1) if later else None
    return w, out


def brief(out: dict[str, Any]) -> str:
    s = out["storm"]
    return (
        f"{s['resumed']}/{s['members']} resumed; 50/99/100 % resumed "
        f"{s['resumed_50pct_after_up_s']}/{s['resumed_99pct_after_up_s']}/"
        f"{s['resumed_100pct_after_up_s']} s after up (down->up {s['down_to_up_s']} s); "
        f"failed attempts {s['failed_attempts']}; lost {out['lost']}, dup {out['duplicates']}; "
        f"p99 during {s['p99_during_ms']} ms, after {s['p99_after_ms']} ms; "
        f"server-side CPU {s['server_side_cpu_share']} cores"
    )
