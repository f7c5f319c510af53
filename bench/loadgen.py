"""The load generator: G groups x M members over real WebSockets, and what it measures.

One process, one event loop (uvloop when installed), one task per connection reading every
frame. Each `message.send` carries the sender's monotonic timestamp in its body, so every
recipient's receipt gives a fan-out latency sample. Loss and duplicates are counted per logical
client from `seq` (a logical client keeps what it saw across reconnects and resumes): a message
acked during a measurement window must reach every client of its group exactly once.

CPU time comes from /proc/<pid>/stat (utime + stime) of the server processes, Redis, every
PostgreSQL process and this generator, read at the start and end of a window; resident memory
from /proc/<pid>/status (VmRSS). Every loop ends by count and by time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from project.serve import watch_stalls  # noqa: E402  (standard library only at import)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def origin_of(url: str) -> str:
    """The page origin a browser would send for a socket to `url` (scheme, host and port)."""
    parts = urlsplit(url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


PAD = "x" * 80
# Haven allows 8 messages per member per 10 s; the generator keeps a little under it.
HAVEN_RATE_MESSAGES = 7
HAVEN_RATE_SECONDS = 10.5


def now_ns() -> int:
    return time.monotonic_ns()


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


# --- /proc ------------------------------------------------------------------------------------


def proc_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def proc_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_named(comm: str) -> list[int]:
    """Every process whose command name (/proc/<pid>/comm) is `comm`."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == comm:
                    found.append(int(entry))
        except OSError:
            continue
    return found


def machine_busy_ticks() -> int:
    """Non-idle CPU ticks of the whole machine (/proc/stat), to see who else was busy."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return sum(fields[:3]) + sum(fields[5:8])


def pids_postgres_backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (others' databases on the same server excluded)."""
    found: list[int] = []
    needle = f" {database} ".encode()
    for pid in pids_named("postgres"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


class CpuMeter:
    """CPU seconds per role (server, redis, postgres, generator) between two snapshots."""

    def __init__(self, roles: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.roles = roles

    def snapshot(self) -> dict[str, dict[int, int]]:
        snap: dict[str, dict[int, int]] = {}
        for role, pids in self.roles.items():
            ticks: dict[int, int] = {}
            for pid in pids():
                value = proc_ticks(pid)
                if value is not None:
                    ticks[pid] = value
            snap[role] = ticks
        snap["machine"] = {0: machine_busy_ticks()}
        return snap

    @staticmethod
    def delta(before: dict[str, dict[int, int]], after: dict[str, dict[int, int]]) -> dict:
        out: dict[str, float] = {}
        for role, ticks in after.items():
            start = before.get(role, {})
            out[role] = sum(v - start.get(pid, 0) for pid, v in ticks.items()) / CLK_TCK
        if "machine" in out:
            # Busy CPU of everything else on the machine during the window (noise).
            out["other"] = max(0.0, out.pop("machine") - sum(out.values()))
        return out


# --- clients ----------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"refused with close code {code}")
        self.code = code


@dataclass
class Target:
    group: int
    member: int
    url: str
    token: str | None = None


class Client:
    """One logical member: its socket (replaced on reconnect) and what it has seen."""

    def __init__(self, gen: Generator, target: Target) -> None:
        self.gen = gen
        self.target = target
        self.group = target.group
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.last_seq = 0
        self.got: set[int] = set()
        self.pending: dict[str, asyncio.Future[bool]] = {}
        self.pending_ack: dict[str, asyncio.Future[bool]] = {}
        self.sent_ts: dict[str, int] = {}
        self.recent: deque[float] = deque()
        self.closing = False
        self.busy = False  # reconnecting: not a sender meanwhile
        self.ever_connected = False  # only connected clients are owed deliveries
        self.replaying = False
        self.resume_done: asyncio.Future[int] | None = None

    def allow_send(self, now: float) -> bool:
        if not self.gen.rate_limited:
            return True
        while self.recent and now - self.recent[0] > HAVEN_RATE_SECONDS:
            self.recent.popleft()
        if len(self.recent) >= HAVEN_RATE_MESSAGES:
            return False
        self.recent.append(now)
        return True

    async def open(
        self, *, resume: bool, timeout: float = 60.0, on_state: Callable[[], Any] | None = None
    ) -> None:
        """Connect; with `resume`, ask for what came after `last_seq` and wait until it is
        replayed (`resume.done`). `on_state` is called once `session.state` arrived."""
        headers = {"Authorization": f"Token {self.target.token}"} if self.target.token else None
        ws = await connect(
            self.target.url,
            additional_headers=headers,
            origin=origin_of(self.target.url) if self.target.token else None,  # type: ignore[arg-type]
            compression=None,
            ping_interval=None,
            open_timeout=timeout,
            close_timeout=1,
            max_size=2**20,
        )
        if resume:
            # A client that knows where it stopped asks for the rest at once (one round trip
            # less than waiting for `session.state`; the server answers it right after that).
            self.replaying = True
            await ws.send(dumps({"type": "resume", "after_seq": self.last_seq}))
        try:
            first = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            raise Refused(closed.rcvd.code if closed.rcvd else None) from None
        except TimeoutError:
            ws.transport.abort()
            raise
        state = json.loads(first)
        if state.get("type") != "session.state":
            ws.transport.abort()
            raise Refused(None)
        if not resume:
            self.last_seq = int(state.get("last_seq") or 0)
        if on_state is not None:
            on_state()
        self.ws = ws
        self.ever_connected = True
        if resume:
            loop = asyncio.get_running_loop()
            self.resume_done = loop.create_future()
        self.reader = asyncio.create_task(self._read(ws))
        if resume:
            assert self.resume_done is not None
            try:
                await asyncio.wait_for(self.resume_done, timeout)
            finally:
                self.replaying = False

    async def _read(self, ws: ClientConnection) -> None:
        on_frame = self.gen.on_frame
        try:
            async for text in ws:
                if ws is not self.ws:
                    break  # dropped by us: what it still had buffered never reached the phone
                on_frame(self, text)
        except websockets.ConnectionClosed:
            pass
        except Exception:  # a malformed frame must not kill the run; count it
            self.gen.counters["reader_failures"] += 1
        finally:
            if ws is self.ws and not self.closing and not self.busy:
                self.gen.on_unexpected_close(self)

    def is_open(self) -> bool:
        return self.ws is not None and self.ws.state is websockets.State.OPEN

    def abort(self) -> None:
        """Drop the connection without a close handshake (a phone losing its network)."""
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.transport.abort()


# --- measurement windows ------------------------------------------------------------------------


@dataclass
class Window:
    t0: int
    t1: int = 2**63
    latencies: list[int] = field(default_factory=list)
    replay_latencies: list[int] = field(default_factory=list)
    deliveries: int = 0
    received: int = 0
    expected: int = 0
    sent: int = 0
    resolved: int = 0
    acked: defaultdict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    cpu_before: dict[str, dict[int, int]] = field(default_factory=dict)
    cpu_after: dict[str, dict[int, int]] = field(default_factory=dict)
    counters_before: Counter[str] = field(default_factory=Counter)
    drain_seconds: float = 0.0
    # The generator's own pauses of 5 ms or more in the window: they add to every latency it
    # measures.
    loop_late_ms: list[float] = field(default_factory=list)
    gc_ms: list[float] = field(default_factory=list)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class Generator:
    """The fleet of clients of one server setup, and the windows measured on it."""

    def __init__(self, *, rate_limited: bool, cpu: CpuMeter | None = None) -> None:
        self.rate_limited = rate_limited
        self.cpu = cpu
        self.clients: list[Client] = []
        self.groups: dict[int, list[Client]] = defaultdict(list)
        self.rr: dict[int, int] = defaultdict(int)
        self.window: Window | None = None
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.reconnect_tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.stop_watching: Callable[[], None] | None = None
        # How a dropped client comes back; None: after 0.2-1 s, retrying for 30 s (S5, S6).
        # The restart storms (bench/storm.py) set room.js's schedule here.
        self.reconnector: Callable[[Client], Coroutine[Any, Any, Any]] | None = None

    # the generator's own pauses --------------------------------------------------------------

    def _on_pause(self, kind: str, ms: float) -> None:
        w = self.window
        if w is not None:
            (w.gc_ms if kind.startswith("gc") else w.loop_late_ms).append(ms)

    def watch_pauses(self) -> None:
        """Count the generator's own GC runs and event-loop lateness (project/serve.py)."""
        if self.stop_watching is None:
            self.stop_watching = watch_stalls(5.0, self._on_pause, tick_seconds=0.005)

    # frames ----------------------------------------------------------------------------------

    def on_frame(self, client: Client, text: str | bytes) -> None:
        t = now_ns()
        event = json.loads(text)
        kind = event.get("type")
        if kind == "message":
            seq = event["seq"]
            if seq in client.got:
                # A resume replays everything after the seq it names, including what this
                # connection had already forwarded live before the resume was answered; the
                # client ignores those (seq <= the last it applied). Any other repeat is a
                # duplicate.
                self.counters["resent_in_resume" if client.replaying else "duplicates"] += 1
                return
            client.got.add(seq)
            if seq > client.last_seq + 1 and not client.replaying:
                self.counters["out_of_order"] += 1
            if seq > client.last_seq:
                client.last_seq = seq
            self.counters["messages"] += 1
            body = event.get("body") or ""
            cut = body.find(":")
            sent = int(body[:cut]) if cut > 0 else 0
            w = self.window
            if w is not None:
                if t <= w.t1:
                    w.deliveries += 1  # throughput: every delivery inside the window
                if sent >= w.t0:
                    if client.replaying:
                        w.replay_latencies.append(t - sent)
                    else:
                        w.latencies.append(t - sent)
                    w.received += 1
            waiter = client.pending.pop(event.get("client_id"), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(True)
        elif kind == "ack":
            self.counters["acks"] += 1
            acked = client.pending_ack.pop(event.get("client_id"), None)
            if acked is not None and not acked.done():
                acked.set_result(True)
            sent = client.sent_ts.pop(event.get("client_id"), None)
            w = self.window
            if sent is not None and w is not None and w.t0 <= sent <= w.t1:
                w.resolved += 1
                seqs = w.acked[client.group]
                if event["seq"] not in seqs:
                    seqs.add(event["seq"])
                    w.expected += sum(1 for c in self.groups[client.group] if c.ever_connected)
        elif kind == "resume.done":
            if client.resume_done is not None and not client.resume_done.done():
                client.resume_done.set_result(int(event.get("last_seq") or 0))
        elif kind == "error":
            code = str(event.get("code"))
            self.errors[code] += 1
            ref = event.get("ref")
            sent = client.sent_ts.pop(ref, None)
            w = self.window
            if sent is not None and w is not None and w.t0 <= sent <= w.t1:
                w.resolved += 1
            for waiters in (client.pending, client.pending_ack):
                waiter = waiters.pop(ref, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(False)
        else:
            self.counters[f"other:{kind}"] += 1

    # connections -------------------------------------------------------------------------------

    def add(self, target: Target) -> Client:
        client = Client(self, target)
        self.clients.append(client)
        self.groups[target.group].append(client)
        return client

    async def connect_all(
        self, clients: list[Client] | None = None, *, concurrency: int = 64, deadline: float = 300
    ) -> dict[str, Any]:
        """Open every client's socket; returns timing and failures."""
        clients = self.clients if clients is None else clients
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        stop_at = started + deadline
        failures: Counter[str] = Counter()

        async def one(client: Client) -> None:
            async with gate:
                for _attempt in range(3):
                    if time.monotonic() > stop_at:
                        failures["deadline"] += 1
                        return
                    try:
                        await client.open(
                            resume=False, timeout=max(1.0, stop_at - time.monotonic())
                        )
                        return
                    except Refused as refused:
                        failures[f"refused:{refused.code}"] += 1
                        return
                    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                        failures[type(exc).__name__] += 1
                        await asyncio.sleep(0.2)

        await asyncio.gather(*(one(c) for c in clients))
        seconds = time.monotonic() - started
        opened = sum(1 for c in clients if c.ws is not None)
        return {
            "connections": opened,
            "wanted": len(clients),
            "seconds": round(seconds, 2),
            "per_s": round(opened / seconds, 1) if seconds else None,
            "failures": dict(failures),
        }

    def on_unexpected_close(self, client: Client) -> None:
        """A dropped socket reconnects and resumes, as the real client does."""
        self.counters["unexpected_closes"] += 1
        if self.stopping:
            return
        if self.reconnector is not None:
            task = asyncio.create_task(self.reconnector(client))
        else:
            task = asyncio.create_task(self._reconnect(client, delay=random.uniform(0.2, 1.0)))
        self.reconnect_tasks.add(task)
        task.add_done_callback(self.reconnect_tasks.discard)

    async def _reconnect(self, client: Client, *, delay: float, budget: float = 30.0) -> float:
        """Reconnect and resume from the last seq seen; returns seconds taken (-1 on failure)."""
        client.busy = True
        started = time.monotonic()
        try:
            await asyncio.sleep(delay)
            while time.monotonic() - started < budget and not self.stopping:
                try:
                    await client.open(resume=True, timeout=max(1.0, budget))
                    self.counters["reconnects"] += 1
                    return time.monotonic() - started
                except (OSError, TimeoutError, Refused, websockets.WebSocketException) as exc:
                    client.replaying = False
                    self.counters["reconnect_failures"] += 1
                    why = f"{exc.code}" if isinstance(exc, Refused) else type(exc).__name__
                    self.counters[f"reconnect_failure:{why}"] += 1
                    await asyncio.sleep(random.uniform(0.3, 1.0))
            return -1.0
        finally:
            client.busy = False

    async def churn_one(self, client: Client) -> float:
        client.busy = True
        client.abort()
        return await self._reconnect(client, delay=0.0)

    async def close_all(self) -> None:
        """Drop every socket at once (the server is stopped right after)."""
        self.stopping = True
        if self.stop_watching is not None:
            self.stop_watching()
        for task in list(self.reconnect_tasks):
            task.cancel()
        for client in self.clients:
            client.closing = True
            client.abort()
        readers = [c.reader for c in self.clients if c.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=5)

    # sending ---------------------------------------------------------------------------------

    def pick_sender(self, group: int) -> Client | None:
        members = self.groups[group]
        now = time.monotonic()
        for _ in range(len(members)):
            self.rr[group] = (self.rr[group] + 1) % len(members)
            client = members[self.rr[group]]
            if client.ws is None or client.busy or client.closing:
                continue
            if client.allow_send(now):
                return client
        return None

    async def send_message(
        self, client: Client, *, wait_echo: bool = False
    ) -> tuple[asyncio.Future[bool], asyncio.Future[bool]] | None:
        """Send one message; with `wait_echo`, futures for its ack and its own copy."""
        if client.ws is None:
            return None
        client_id = str(uuid.uuid4())
        sent = now_ns()
        client.sent_ts[client_id] = sent
        waiter: tuple[asyncio.Future[bool], asyncio.Future[bool]] | None = None
        if wait_echo:
            loop = asyncio.get_running_loop()
            waiter = (loop.create_future(), loop.create_future())
            client.pending_ack[client_id], client.pending[client_id] = waiter
        try:
            await client.ws.send(
                dumps(
                    {
                        "type": "message.send",
                        "client_id": client_id,
                        "body": f"{sent}:{PAD}",
                        "content_warning": None,
                    }
                )
            )
        except websockets.ConnectionClosed:
            client.sent_ts.pop(client_id, None)
            client.pending.pop(client_id, None)
            client.pending_ack.pop(client_id, None)
            self.counters["send_failures"] += 1
            return None
        self.counters["sent"] += 1
        w = self.window
        if w is not None and w.t1 > sent:
            w.sent += 1
        return waiter

    # windows ---------------------------------------------------------------------------------

    def begin(self) -> Window:
        self.watch_pauses()
        w = Window(t0=now_ns())
        w.counters_before = Counter(self.counters) + Counter(
            {f"error:{k}": v for k, v in self.errors.items()}
        )
        if self.cpu is not None:
            w.cpu_before = self.cpu.snapshot()
        self.window = w
        return w

    def end(self, w: Window) -> None:
        w.t1 = now_ns()
        if self.cpu is not None:
            w.cpu_after = self.cpu.snapshot()

    async def drain(self, w: Window, timeout: float) -> None:
        """Wait until every acked message of the window reached every client (or timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and (w.resolved < w.sent or w.received < w.expected):
            await asyncio.sleep(0.02)
        w.drain_seconds = timeout - max(0.0, deadline - loop.time())
        self.window = None

    def missing(self, w: Window, *, connected_only: bool = False) -> int:
        """Deliveries owed by the window's acked messages that have not arrived (yet).

        With `connected_only`, clients whose socket is not open now (one that gave up
        reconnecting) are left out: nothing can reach them, by any server.
        """
        missing = 0
        for group, seqs in w.acked.items():
            for client in self.groups[group]:
                if not client.ever_connected:
                    continue
                if connected_only and not client.is_open():
                    continue
                missing += len(seqs - client.got)
        return missing

    async def settle(self, windows: list[Window], timeout: float) -> None:
        """Before judging loss, give late deliveries of every window up to `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(self.missing(w, connected_only=True) for w in windows):
            await asyncio.sleep(0.25)

    def report(self, w: Window) -> dict[str, Any]:
        seconds = (w.t1 - w.t0) / 1e9
        missing = self.missing(w)
        acked = sum(len(s) for s in w.acked.values())
        lat = sorted(w.latencies)
        replay = sorted(w.replay_latencies)
        after = Counter(self.counters) + Counter({f"error:{k}": v for k, v in self.errors.items()})
        delta = {k: after[k] - w.counters_before.get(k, 0) for k in after}
        delta = {k: v for k, v in delta.items() if v}
        out: dict[str, Any] = {
            "seconds": round(seconds, 2),
            "acked": acked,
            "expected_deliveries": w.expected,
            "deliveries": w.deliveries,
            "deliveries_per_s": round(w.deliveries / seconds, 1) if seconds else 0,
            "messages_per_s": round(acked / seconds, 1) if seconds else 0,
            "lost": missing,
            "loss_pct": round(100 * missing / w.expected, 3) if w.expected else 0.0,
            "duplicates": delta.get("duplicates", 0),
            "resent_in_resume": delta.get("resent_in_resume", 0),
            "p50_ms": round(percentile(lat, 0.50) / 1e6, 2),
            "p90_ms": round(percentile(lat, 0.90) / 1e6, 2),
            "p99_ms": round(percentile(lat, 0.99) / 1e6, 2),
            "max_ms": round(lat[-1] / 1e6, 2) if lat else float("nan"),
            "samples": len(lat),
            "unacked": w.sent - w.resolved,
            "drain_s": round(w.drain_seconds, 2),
            "generator_pauses": {
                "loop_late_over_5ms": len(w.loop_late_ms),
                "loop_late_max_ms": round(max(w.loop_late_ms, default=0.0), 1),
                "gc_over_5ms": len(w.gc_ms),
                "gc_max_ms": round(max(w.gc_ms, default=0.0), 1),
            },
            "counters": delta,
        }
        if replay:
            out["replayed"] = len(replay)
            out["replay_p50_ms"] = round(percentile(replay, 0.5) / 1e6, 1)
            out["replay_p99_ms"] = round(percentile(replay, 0.99) / 1e6, 1)
        if w.cpu_before and w.cpu_after:
            cpu = CpuMeter.delta(w.cpu_before, w.cpu_after)
            out["cpu_s"] = {k: round(v, 3) for k, v in cpu.items()}
            if w.deliveries:
                per = {k: round(1e6 * v / w.deliveries, 2) for k, v in cpu.items()}
                per["server_side"] = round(
                    1e6
                    * sum(v for k, v in cpu.items() if k in {"server", "redis", "postgres"})
                    / w.deliveries,
                    2,
                )
                out["cpu_us_per_delivery"] = per
        return out


# --- scenario drivers ---------------------------------------------------------------------------


async def steady(
    gen: Generator,
    groups: list[int],
    *,
    period: float,
    seconds: float,
    until: asyncio.Event | None = None,
) -> None:
    """Each group sends one message every `period` seconds (open loop, random phase), for
    `seconds` or until `until` is set."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def one(group: int) -> None:
        at = loop.time() + random.uniform(0, period)
        while at < end and not (until is not None and until.is_set()):
            await asyncio.sleep(max(0.0, at - loop.time()))
            client = gen.pick_sender(group)
            if client is None:
                gen.counters["skipped_sends"] += 1
            else:
                await gen.send_message(client)
            at += period

    await asyncio.gather(*(one(g) for g in groups))


async def saturate(
    gen: Generator,
    groups: list[int],
    *,
    seconds: float,
    ack_timeout: float = 30.0,
    echo_timeout: float = 2.0,
) -> None:
    """One message in flight per group: the next goes once the sender saw its own copy.

    A server that acks but then loses the copy (the naive one under overload) releases the
    group `echo_timeout` after the ack; one that is slow to ack (a backlog) holds it.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def one(group: int) -> None:
        while loop.time() < end:
            client = gen.pick_sender(group)
            if client is None:
                await asyncio.sleep(0.05)
                continue
            waiters = await gen.send_message(client, wait_echo=True)
            if waiters is None:
                await asyncio.sleep(0.05)
                continue
            acked, echoed = waiters
            await asyncio.wait(
                (acked, echoed), timeout=ack_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not echoed.done():
                try:
                    await asyncio.wait_for(asyncio.shield(echoed), echo_timeout)
                except TimeoutError:
                    gen.counters["echo_timeouts"] += 1
            if loop.time() > end + ack_timeout:
                return

    await asyncio.gather(*(one(g) for g in groups))


async def burst(gen: Generator, groups: list[int], *, count: int) -> float:
    """The host (member 0) of each group writes `count` messages back to back, all groups at once.

    Returns the seconds the writes took.
    """
    started = time.monotonic()

    async def one(group: int) -> None:
        host = gen.groups[group][0]
        for _ in range(count):
            if host.ws is None:
                return
            await gen.send_message(host)

    await asyncio.gather(*(one(g) for g in groups))
    return time.monotonic() - started


async def churn(
    gen: Generator, *, fraction: float, seconds: float, rng: random.Random
) -> dict[str, Any]:
    """Every second, `fraction` of the clients drop their socket, reconnect and resume."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    tasks: list[asyncio.Task[float]] = []
    while loop.time() < end:
        tick = loop.time()
        idle = [c for c in gen.clients if c.ws is not None and not c.busy]
        batch = rng.sample(idle, min(len(idle), round(fraction * len(gen.clients))))
        tasks += [asyncio.create_task(gen.churn_one(c)) for c in batch]
        await asyncio.sleep(max(0.0, tick + 1.0 - loop.time()))
    done, pending = await asyncio.wait(tasks, timeout=30) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    times = sorted(t.result() for t in done if not t.cancelled() and t.exception() is None)
    ok = [t for t in times if t >= 0]
    return {
        "reconnects_started": len(tasks),
        "reconnects_ok": len(ok),
        "reconnect_p50_ms": round(1000 * percentile(ok, 0.5), 1) if ok else None,
        "reconnect_p99_ms": round(1000 * percentile(ok, 0.99), 1) if ok else None,
    }
