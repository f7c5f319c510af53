"""Run the load benchmark: Haven against the raw and naive reference servers (issue 7).

Scenarios (each for Haven, raw and naive where it makes sense, >= 3 repetitions):
  S1 steady chat: G groups x M members, one message per group every 2 s
  S2 saturation: one message in flight per group (Haven with 1 and 2 Daphne processes)
  S3 a host sending 200 messages back to back in 50 groups at once
  S4 idle connections on one process: resident memory per connection
  S5 churn: 10% of the clients drop, reconnect and resume every second, during S1
  S6 Redis restarted in the middle of S1 (its own redis-server on another loopback port)
  S7 restart storm: the one server process stopped (SIGTERM) and replaced on the same port
     during S1; every member reconnects on room.js's schedule and resumes (bench/storm.py)
  S7b two processes, one killed (SIGKILL): its members land on the other

    python bench/run.py            # the full run (< 10 minutes)
    python bench/run.py --quick    # a smoke run (1-2 minutes)

Only loopback traffic; every child process is stopped at exit; results go to var/bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VAR = ROOT / "var" / "bench"
LOGS = VAR / "logs"
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402
import seed  # noqa: E402
import storm  # noqa: E402
from loadgen import CpuMeter, Generator, Target, proc_rss_kib  # noqa: E402

CHILDREN: list[subprocess.Popen[bytes]] = []
RUN_ID = f"{os.getpid()}x{int(time.time()) % 100000}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- child processes ------------------------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes], *, grace: float = 3.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def stop_all() -> None:
    for proc in list(CHILDREN):
        stop(proc, grace=2.0)


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def spawn(name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    CHILDREN.append(proc)
    return proc


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A throwaway redis-server (no persistence: a restart loses every group membership)."""
    exe = shutil.which("redis-server") or "redis-server"
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = spawn(f"redis-{port}", argv, cwd=VAR, env=dict(os.environ))
    wait_port(port, proc, 20)
    return proc


@dataclass
class Setup:
    """One server setup under test: its processes and how clients reach it."""

    name: str
    kind: str  # haven | raw | naive
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    redis_port: int | None = None
    # The setup's own redis-server, replaced when S6 restarts it.
    redis_proc: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # How each server process was started (name, argv, cwd, env): S7 starts it again.
    launch: list[tuple[str, list[str], Path, dict[str, str]]] = field(default_factory=list)

    def server_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def url(self, index: int, group: dict[str, Any], g: int) -> str:
        port = self.ports[index % len(self.ports)]
        if self.kind == "haven":
            return f"ws://127.0.0.1:{port}/ws/sessions/{group['session_id']}/"
        if self.kind == "naive":
            return f"ws://127.0.0.1:{port}/ws/chat/g{g}/"
        return f"ws://127.0.0.1:{port}/ws/g{g}/"

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)
        for proc in self.redis_proc:
            stop(proc)


def start_setup(kind: str, *, processes: int = 1, args: argparse.Namespace) -> Setup:
    """Start the servers of one setup; Redis-backed ones get their own redis-server."""
    ports = [free_port() for _ in range(processes)]
    redis_port = free_port()
    setup = Setup(
        name=kind if processes == 1 else f"{kind}-{processes}p",
        kind=kind,
        ports=ports,
        redis_port=None if kind == "raw" else redis_port,
    )
    if kind != "raw":
        setup.redis_proc.append(start_redis(redis_port))
    prefix = f"bench{RUN_ID}x{random.randrange(10**6)}"
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    for i, port in enumerate(ports):
        if kind == "raw":
            argv = [sys.executable, str(BENCH / "raw_server.py"), "--port", str(port)]
            setup.launch.append((f"raw-{port}", argv, BENCH, dict(os.environ)))
        elif kind == "naive":
            env = dict(os.environ)
            env.update(
                {
                    "DJANGO_SETTINGS_MODULE": "naive.settings",
                    "PYTHONPATH": str(BENCH),
                    "REDIS_URL": redis_url,
                    "NAIVE_CHANNEL_PREFIX": prefix,
                }
            )
            argv = [sys.executable, "-m", "naive.serve", "-b", "127.0.0.1", "-p", str(port)]
            setup.launch.append((f"naive-{port}", [*argv, "naive.asgi:application"], BENCH, env))
        else:
            env = seed.haven_env(args.database_url, VAR)
            env.update(
                {
                    "REDIS_URL": redis_url,
                    "HAVEN_CHANNEL_PREFIX": prefix,
                    "HAVEN_HEARTBEAT_SECONDS": str(args.heartbeat),
                    "HAVEN_STALL_LOG_MS": "15",
                    **seed.production_env(VAR),
                }
            )
            server = os.environ.get("HAVEN_BENCH_SERVER", "project.serve")
            argv = [sys.executable, "-m", server, "-b", "127.0.0.1", "-p", str(port)]
            setup.launch.append(
                (f"haven-{port}-{i}", [*argv, "project.asgi:application"], ROOT, env)
            )
        name, argv, cwd, env = setup.launch[i]
        setup.procs.append(spawn(name, argv, cwd=cwd, env=env))
    for port, proc in zip(ports, setup.procs, strict=True):
        wait_port(port, proc)
    return setup


def respawn(setup: Setup, index: int) -> None:
    """Start server process `index` again, as it was started, on its port (S7)."""
    name, argv, cwd, env = setup.launch[index]
    setup.procs[index] = spawn(name, argv, cwd=cwd, env=env)
    wait_port(setup.ports[index], setup.procs[index])


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no goodbye to its sockets, its Redis groups or the database (S7b)."""
    proc.kill()
    proc.wait(10)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def connect_concurrency(setup: Setup) -> int:
    # The same for every server. Haven's opening at 16 or 128 at a time was slower than at 64
    # (2026-12-05, one run each: 310 and 306 connections/s; three at 64: 381-404).
    return 64


def make_generator(setup: Setup, args: argparse.Namespace) -> Generator:
    roles: dict[str, Callable[[], list[int]]] = {
        "server": setup.server_pids,
        "generator": lambda: [os.getpid()],
    }
    if setup.redis_proc:
        roles["redis"] = lambda: [setup.redis_proc[0].pid]
    if setup.kind == "haven":
        database = args.database_url.rsplit("/", 1)[-1]
        roles["postgres"] = lambda: loadgen.pids_postgres_backends(database)
    return Generator(rate_limited=setup.kind == "haven", cpu=CpuMeter(roles))


def add_clients(
    gen: Generator, setup: Setup, data: dict[str, Any], *, groups: int, members: int
) -> None:
    index = 0
    for g, group in enumerate(data["groups"][:groups]):
        for m in range(members):
            token = group["tokens"][m] if setup.kind == "haven" else None
            gen.add(Target(group=g, member=m, url=setup.url(index, group, g), token=token))
            index += 1


# --- scenarios ----------------------------------------------------------------------------------


def drain_for(gen: Generator, cfg: Config) -> float:
    # Haven owes every acked message (its log replays it), and a backlog left behind would
    # be measured by the next window: let it drain. Raw and naive never deliver late.
    return cfg.drain if gen.rate_limited else 3.0


Outcome = tuple[loadgen.Window, dict[str, Any]]


def scenario_seconds(scenario: str, cfg: Config, gen: Generator) -> float:
    """The longest one repetition can take (the budget skips what would not fit)."""
    drain = drain_for(gen, cfg)
    return {
        "S1": cfg.warm + cfg.s1_seconds + drain,
        "S2": cfg.warm + cfg.s2_seconds + drain + 30.0,  # a send may wait 30 s for its ack
        "S3": (cfg.s3_drain if gen.rate_limited else 5.0) + 2.0,
        "S5": cfg.warm + cfg.s5_seconds + drain + 30.0,  # reconnects may take 30 s
        "S6": cfg.warm + cfg.s6_seconds + drain + 2.0,
        "S7": cfg.warm + cfg.s7_before + cfg.s7_limit + cfg.s7_after + drain + 15.0,
        "S7b": cfg.warm + cfg.s7_before + cfg.s7_limit + cfg.s7_after + drain + 15.0,
    }[scenario]


async def s1_steady(gen: Generator, cfg: Config) -> Outcome:
    groups = sorted(gen.groups)
    task = asyncio.create_task(
        loadgen.steady(gen, groups, period=2.0, seconds=cfg.warm + cfg.s1_seconds)
    )
    await asyncio.sleep(cfg.warm)
    w = gen.begin()
    await asyncio.sleep(cfg.s1_seconds)
    gen.end(w)
    await task
    await gen.drain(w, drain_for(gen, cfg))
    return w, gen.report(w)


async def s2_saturate(gen: Generator, cfg: Config) -> Outcome:
    groups = sorted(gen.groups)
    task = asyncio.create_task(loadgen.saturate(gen, groups, seconds=cfg.warm + cfg.s2_seconds))
    await asyncio.sleep(cfg.warm)
    w = gen.begin()
    await asyncio.sleep(cfg.s2_seconds)
    gen.end(w)
    await task
    await gen.drain(w, drain_for(gen, cfg))
    return w, gen.report(w)


async def s3_burst(gen: Generator, cfg: Config, rep: int) -> Outcome:
    all_groups = sorted(gen.groups)
    n = min(cfg.s3_groups, len(all_groups))
    start = (rep * n) % len(all_groups)
    groups = [all_groups[(start + i) % len(all_groups)] for i in range(n)]
    w = gen.begin()
    write_s = await loadgen.burst(gen, groups, count=cfg.s3_messages)
    await gen.drain(w, cfg.s3_drain if gen.rate_limited else 5.0)
    gen.end(w)
    out = gen.report(w)
    out["write_seconds"] = round(write_s, 3)
    out["attempted"] = n * cfg.s3_messages
    for g in groups:  # the server's flood limit now counts these hosts' sends
        gen.groups[g][0].recent.extend([time.monotonic()] * loadgen.HAVEN_RATE_MESSAGES)
    return w, out


async def s5_churn(gen: Generator, cfg: Config, rep: int) -> Outcome:
    groups = sorted(gen.groups)
    task = asyncio.create_task(
        loadgen.steady(gen, groups, period=2.0, seconds=cfg.warm + cfg.s5_seconds)
    )
    await asyncio.sleep(cfg.warm)
    w = gen.begin()
    churned = await loadgen.churn(
        gen, fraction=0.10, seconds=cfg.s5_seconds, rng=random.Random(1000 + rep)
    )
    gen.end(w)
    await task
    # Without a log (raw, naive) what a dropped client missed never comes: do not wait for it.
    await gen.drain(w, drain_for(gen, cfg))
    out = gen.report(w)
    out.update(churned)
    return w, out


async def s6_redis_restart(gen: Generator, cfg: Config, setup: Setup) -> Outcome:
    groups = sorted(gen.groups)
    task = asyncio.create_task(
        loadgen.steady(gen, groups, period=2.0, seconds=cfg.warm + cfg.s6_seconds)
    )
    await asyncio.sleep(cfg.warm)
    w = gen.begin()
    await asyncio.sleep(cfg.s6_seconds / 3)
    down = time.monotonic()
    await asyncio.to_thread(stop, setup.redis_proc[0], grace=5.0)
    assert setup.redis_port is not None
    setup.redis_proc[0] = await asyncio.to_thread(start_redis, setup.redis_port)
    restart_s = time.monotonic() - down
    await asyncio.sleep(max(0.0, cfg.s6_seconds * 2 / 3 - restart_s))
    gen.end(w)
    await task
    await gen.drain(w, drain_for(gen, cfg))
    out = gen.report(w)
    out["redis_down_s"] = round(restart_s, 2)
    lat = sorted(w.latencies)
    if lat:
        out["over_1s_pct"] = round(100 * sum(1 for x in lat if x > 1e9) / len(lat), 2)
    return w, out


async def s7_storm(gen: Generator, cfg: Config, setup: Setup, rep: int) -> Outcome:
    """S7 (one process): SIGTERM it, start it again on its port. S7b (two): SIGKILL the second;
    its members reconnect to the first (the generator plays the load balancer)."""
    two = len(setup.procs) > 1
    i = 1 if two else 0
    port = setup.ports[i]
    victims = [c for c in gen.clients if f":{port}/" in c.target.url]
    proc = setup.procs[i]
    if two:
        live = setup.ports[0]
        for client in victims:
            client.target = replace(client.target, url=client.target.url.replace(
                f":{port}/", f":{live}/"))  # fmt: skip
    return await storm.restart_storm(
        gen,
        warm=cfg.warm,
        before=cfg.s7_before,
        after=cfg.s7_after,
        limit=cfg.s7_limit,
        drain=drain_for(gen, cfg),
        victims=victims,
        bring_down=(lambda: kill(proc)) if two else (lambda: stop(proc, grace=15.0)),
        bring_up=None if two else (lambda: respawn(setup, i)),
        seed=(2000 if two else 1000) + rep,
    )


async def s4_idle(
    setup: Setup, data: dict[str, Any], cfg: Config, args: argparse.Namespace
) -> dict[str, Any]:
    """Open `cfg.s4_connections` idle connections on one fresh process; RSS before/after."""
    gen = make_generator(setup, args)
    groups_n = min(len(data["groups"]), cfg.groups)
    members_n = cfg.members
    warm: list[Any] = []
    # The 20 warm connections are part of the count: at 10,000 on 2,000 seeded members each
    # holds exactly SOCKETS_PER_MEMBER (5) connections.
    for i in range(cfg.s4_connections):
        g = (i // members_n) % groups_n
        m = i % members_n
        group = data["groups"][g]
        token = group["tokens"][m] if setup.kind == "haven" else None
        client = gen.add(Target(group=g, member=m, url=setup.url(i, group, g), token=token))
        if i < 20:
            warm.append(client)
    pid = setup.procs[0].pid
    await gen.connect_all(warm)
    await asyncio.sleep(1.0)
    rss0 = proc_rss_kib(pid)
    redis0 = proc_rss_kib(setup.redis_proc[0].pid) if setup.redis_proc else 0
    cpu0 = gen.cpu.snapshot() if gen.cpu else {}
    rest = gen.clients[20:]
    connected = await gen.connect_all(
        rest,
        deadline=max(cfg.s4_deadline, cfg.s4_connections / 50),
        concurrency=connect_concurrency(setup),
    )
    connected["connections"] += len(warm)
    connected["wanted"] += len(warm)
    await asyncio.sleep(cfg.s4_settle)
    rss1 = proc_rss_kib(pid)
    redis1 = proc_rss_kib(setup.redis_proc[0].pid) if setup.redis_proc else 0
    cpu = CpuMeter.delta(cpu0, gen.cpu.snapshot()) if gen.cpu else {}
    n = max(1, connected["connections"])
    out = {
        **connected,
        "rss_before_mib": round(rss0 / 1024, 1),
        "rss_after_mib": round(rss1 / 1024, 1),
        "kib_per_connection": round((rss1 - rss0) / n, 1),
        "redis_kib_per_connection": round((redis1 - redis0) / n, 2) if redis0 else None,
        "connect_cpu_ms_per_connection": {k: round(1000 * v / n, 2) for k, v in cpu.items()},
    }
    await gen.close_all()
    return out


# --- orchestration ------------------------------------------------------------------------------


@dataclass
class Config:
    quick: bool
    groups: int
    members: int
    reps: int
    warm: float
    drain: float
    heartbeat: float
    s1_seconds: float
    s2_seconds: float
    s3_groups: int
    s3_messages: int
    s3_drain: float
    settle: float
    s4_connections: int
    s4_deadline: float
    s4_settle: float
    s5_seconds: float
    s6_seconds: float
    s7_before: float
    s7_after: float
    s7_limit: float
    connect_deadline: float
    budget: float
    profile_seconds: float


def config_from(args: argparse.Namespace) -> Config:
    full = Config(
        quick=False,
        groups=args.groups or 200,
        members=args.members,
        reps=args.reps or 3,
        warm=1.5,
        drain=20.0,
        heartbeat=args.heartbeat,
        s1_seconds=6.0,
        s2_seconds=5.0,
        s3_groups=50,
        s3_messages=200,
        s3_drain=15.0,
        settle=60.0,
        s4_connections=args.s4_connections or 10_000,
        s4_deadline=40.0,
        s4_settle=3.0,
        s5_seconds=6.0,
        s6_seconds=9.0,
        s7_before=3.0,
        s7_after=5.0,
        # room.js waits up to 5 s between attempts: the storm's end leaves room for many more.
        s7_limit=75.0,
        connect_deadline=args.connect_deadline or 120.0,
        budget=args.budget or 900.0,
        profile_seconds=8.0,
    )
    if not args.quick:
        return full
    # The smoke run: the same scenarios, smaller and shorter.
    return replace(
        full,
        quick=True,
        groups=args.groups or 40,
        reps=args.reps or 1,
        warm=1.0,
        drain=8.0,
        s1_seconds=5.0,
        s2_seconds=4.0,
        s3_groups=20,
        s3_drain=10.0,
        settle=10.0,
        s4_connections=args.s4_connections or 1000,
        s4_settle=2.0,
        s5_seconds=5.0,
        s7_before=2.0,
        s7_after=4.0,
        s7_limit=60.0,
        connect_deadline=args.connect_deadline or 90.0,
        budget=args.budget or 240.0,
        profile_seconds=5.0,
    )


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


class Budget:
    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


async def fleet_run(
    kind: str,
    data: dict[str, Any],
    cfg: Config,
    args: argparse.Namespace,
    results: dict[str, Any],
    budget: Budget,
    *,
    processes: int = 1,
    scenarios: tuple[str, ...] = ("S1", "S2", "S3", "S5", "S6"),
    profile: bool = False,
) -> None:
    if budget.left() < 60:
        name = kind if processes == 1 else f"{kind}-{processes}p"
        log(f"{name}: out of time budget, skipping {scenarios}")
        results["skipped"] += [f"{s}/{name}" for s in scenarios]
        return
    if kind == "haven":
        # Every Haven fleet starts from the same database: the ones before it (and earlier
        # runs) left dead rows that autovacuum, off on this machine, would have cleared.
        await asyncio.to_thread(seed.database_vacuum, args.database_url)
    setup = await asyncio.to_thread(start_setup, kind, processes=processes, args=args)
    log(f"{setup.name}: servers up on {setup.ports}")
    gen = make_generator(setup, args)
    add_clients(gen, setup, data, groups=cfg.groups, members=cfg.members)
    try:
        rss0 = sum(proc_rss_kib(p) for p in setup.server_pids())
        cpu0 = gen.cpu.snapshot() if gen.cpu else {}
        connected = await gen.connect_all(
            deadline=min(cfg.connect_deadline, max(10.0, budget.left() - 30)),
            concurrency=connect_concurrency(setup),
        )
        rss1 = sum(proc_rss_kib(p) for p in setup.server_pids())
        connected["kib_per_connection"] = round((rss1 - rss0) / max(1, connected["connections"]))
        # CPU each connection cost the server process(es) while the fleet opened: less
        # sensitive than the rate to whatever else the two cores were doing.
        if cpu0:
            spent = CpuMeter.delta(cpu0, gen.cpu.snapshot())
            connected["server_cpu_ms_per_connection"] = round(
                1000 * spent.get("server", 0.0) / max(1, connected["connections"]), 2
            )
            # And every other part's (Redis, PostgreSQL, the generator, the rest of the
            # machine): the two cores are shared, so each part's cost slows the opening.
            connected["cpu_ms_per_connection"] = {
                role: round(1000 * seconds / max(1, connected["connections"]), 2)
                for role, seconds in sorted(spent.items())
            }
        results["connect"][setup.name] = connected
        log(f"{setup.name}: connected {connected}")
        if connected["connections"] < connected["wanted"]:
            # Its numbers would describe a smaller fleet than the one asked for: the run fails
            # (`invalid_reasons`), and the scenarios are not run on it.
            log(f"FLEET INCOMPLETE: {setup.name}, {connected}; its scenarios are not run")
            return
        windows: list[Outcome] = []
        for scenario in scenarios:
            name = scenario if processes == 1 or scenario == "S7b" else f"{scenario}-{processes}p"
            if scenario in {"S5", "S6", "S7", "S7b"} and setup.kind == "raw":
                continue  # no log to resume from, no Redis to restart
            reps = cfg.reps
            if scenario in {"S5", "S6", "S7", "S7b"} and setup.kind != "haven":
                reps = min(reps, args.reference_churn_reps)
            if scenario == "S7":
                reps = min(reps, args.storm_reps)
            if scenario == "S7b":
                reps = 1  # the killed process stays dead: one storm per fleet
            for rep in range(reps):
                if budget.left() < scenario_seconds(scenario, cfg, gen) + 15:
                    log(f"{setup.name}: out of time budget, skipping {name} rep {rep + 1}")
                    results["skipped"].append(f"{name}/{setup.name}/{rep + 1}")
                    continue
                if scenario == "S1":
                    w, out = await s1_steady(gen, cfg)
                elif scenario == "S2":
                    w, out = await s2_saturate(gen, cfg)
                elif scenario == "S3":
                    w, out = await s3_burst(gen, cfg, rep)
                elif scenario == "S5":
                    w, out = await s5_churn(gen, cfg, rep)
                elif scenario in {"S7", "S7b"}:
                    w, out = await s7_storm(gen, cfg, setup, rep)
                else:
                    w, out = await s6_redis_restart(gen, cfg, setup)
                windows.append((w, out))
                results["runs"].setdefault(name, {}).setdefault(setup.name, []).append(out)
                log(f"{name} {setup.name} rep {rep + 1}: {brief(out)}")
                if "storm" in out:
                    log(f"{name} {setup.name} rep {rep + 1} storm: {storm.brief(out)}")
            if profile and scenario == "S2" and budget.left() > cfg.profile_seconds + 40:
                results["profile"] = await profile_s2(gen, setup, cfg)
        # Loss is judged once the fleet has had time for late deliveries (Haven's log owes
        # them; a window's drain may end while a backlog is still being served).
        settle = min(cfg.settle, max(5.0, budget.left() - 60)) if gen.rate_limited else 1.0
        await gen.settle([w for w, _ in windows], settle)
        for w, out in windows:
            out["late_at_drain"] = out["lost"]
            out["lost"] = gen.missing(w, connected_only=True)
            out["owed_to_disconnected"] = gen.missing(w) - out["lost"]
            out["loss_pct"] = round(100 * out["lost"] / max(1, out["expected_deliveries"]), 3)
        results["connect"][setup.name]["open_at_end"] = sum(c.is_open() for c in gen.clients)
    finally:
        await gen.close_all()
        await asyncio.to_thread(setup.stop)


async def s4_run(
    kind: str,
    data: dict[str, Any],
    cfg: Config,
    args: argparse.Namespace,
    results: dict[str, Any],
    budget: Budget,
) -> None:
    reps = cfg.reps if kind != "haven" else min(cfg.reps, args.s4_haven_reps)
    for rep in range(reps):
        if budget.left() < 60:
            results["skipped"].append(f"S4/{kind}/{rep + 1}")
            continue
        if kind == "haven":
            # A fresh process, as the scenario says: rows the storms' killed process left
            # open (they age out after 90 s) would count toward her five connections.
            await asyncio.to_thread(seed.attendance_close_all, args.database_url)
            await asyncio.to_thread(seed.database_vacuum, args.database_url)
        setup = await asyncio.to_thread(start_setup, kind, args=args)
        try:
            out = await s4_idle(setup, data, cfg, args)
        finally:
            await asyncio.to_thread(setup.stop)
        results["runs"].setdefault("S4", {}).setdefault(kind, []).append(out)
        log(f"S4 {kind} rep {rep + 1}: {out}")


async def profile_s2(gen: Generator, setup: Setup, cfg: Config) -> dict[str, Any]:
    """py-spy on the Daphne process during an extra (unmeasured) S2 window."""
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if exe is None:
        return {"error": "py-spy not installed"}
    pid = setup.procs[0].pid
    out_file = VAR / "profile-haven-s2.txt"
    task = asyncio.create_task(
        loadgen.saturate(gen, sorted(gen.groups), seconds=cfg.profile_seconds + 2)
    )
    await asyncio.sleep(1.0)
    argv = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(cfg.profile_seconds)),
        "--rate",
        "200",
        "--format",
        "raw",
        "--threads",
        "--nonblocking",
        "--output",
        str(out_file),
    ]
    proc = await asyncio.to_thread(spawn, "py-spy", argv, cwd=VAR, env=dict(os.environ))
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(proc.wait, cfg.profile_seconds + 30)
    stop(proc)
    await task
    if not out_file.exists():
        return {"error": "py-spy wrote nothing (see var/bench/logs/py-spy.log)"}
    return summarise_profile(out_file)


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample counts per frame from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        threads[frames[0]] = threads.get(frames[0], 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def pct(items: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(items.items(), key=lambda kv: -kv[1])[:top]
        return [(k, round(100 * v / total, 1)) for k, v in ranked]

    # App functions, inclusive, whatever the line: where the process's time goes, by service.
    app = ("facilitation/", "groups/", "project/")
    app_inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        names = {f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in
                 stack.split(";")[1:] if any(a in f for a in app)}  # fmt: skip
        for name in names:
            app_inclusive[name] = app_inclusive.get(name, 0) + int(count_text)
    return {
        "file": str(path.resolve().relative_to(ROOT)),
        "samples": total,
        "threads_pct": pct(threads),
        "self_pct": pct(own),
        "inclusive_pct": pct(inclusive),
        "app_inclusive_pct": pct(app_inclusive),
    }


def brief(out: dict[str, Any]) -> str:
    cpu = out.get("cpu_us_per_delivery", {})
    return (
        f"{out.get('deliveries_per_s')} deliveries/s, p50 {out.get('p50_ms')} ms, "
        f"p99 {out.get('p99_ms')} ms, lost {out.get('lost')}, dup {out.get('duplicates')}, "
        f"server-side {cpu.get('server_side')} us/delivery, errors "
        f"{ {k: v for k, v in out.get('counters', {}).items() if k.startswith('error')} }, "
        f"generator pauses {out.get('generator_pauses')}"
    )


# --- summary ------------------------------------------------------------------------------------

METRICS = [
    ("deliveries_per_s", "deliveries/s"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("lost", "lost"),
    ("duplicates", "dup"),
    ("server_us", "server µs/del"),
    ("server_side_us", "server+redis+pg µs/del"),
]


def metric(out: dict[str, Any], key: str) -> float | None:
    if key == "server_us":
        return out.get("cpu_us_per_delivery", {}).get("server")
    if key == "server_side_us":
        return out.get("cpu_us_per_delivery", {}).get("server_side")
    value = out.get(key)
    return float(value) if isinstance(value, int | float) else None


def med(values: list[float]) -> tuple[float, float, float] | None:
    values = [v for v in values if v is not None and v == v]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(stat: tuple[float, float, float] | None, reps: int) -> str:
    if stat is None:
        return "-"
    m, lo, hi = stat

    def num(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"

    return num(m) if reps < 2 or lo == hi else f"{num(m)} ({num(lo)}-{num(hi)})"


def summarise(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for scenario in sorted(results["runs"]):
        if scenario == "S4":
            continue
        per_setup = results["runs"][scenario]
        lines.append(f"\n### {scenario}\n")
        lines.append("| server | reps | " + " | ".join(label for _, label in METRICS) + " |")
        lines.append("|---" * (len(METRICS) + 2) + "|")
        for setup, outs in per_setup.items():
            cells = []
            for key, _label in METRICS:
                stat = med([metric(o, key) for o in outs])
                cells.append(fmt(stat, len(outs)))
                if stat is not None:
                    medians.setdefault(scenario, {}).setdefault(setup, {})[key] = stat[0]
            lines.append(f"| {setup} | {len(outs)} | " + " | ".join(cells) + " |")
        ratios = []
        for setup in per_setup:
            if not setup.startswith("haven"):
                continue
            for ref in ("raw", "naive"):
                mine = medians.get(scenario, {}).get(setup, {})
                theirs = medians.get(scenario, {}).get(ref) or medians.get(
                    scenario.split("-")[0], {}
                ).get(ref)
                if not mine or not theirs:
                    continue
                parts = []
                for key, label in (
                    ("deliveries_per_s", "deliveries/s"),
                    ("p99_ms", "p99"),
                    ("server_side_us", "server-side CPU/delivery"),
                ):
                    if mine.get(key) and theirs.get(key):
                        parts.append(f"{label} x{mine[key] / theirs[key]:.2f}")
                if parts:
                    ratios.append(f"- {setup} / {ref}: " + ", ".join(parts))
        lines += ["", *ratios] if ratios else []
    storms = [(sc, setup, outs) for sc, per in sorted(results["runs"].items())
              for setup, outs in per.items() if outs and "storm" in outs[0]]  # fmt: skip
    if storms:
        lines.append("\n### Restart storms (S7, S7b): seconds after the server accepts again\n")
        lines.append(
            "| scenario | server | reps | members | resumed | 50 % | 99 % | 100 % | down→up s | "
            "failed attempts | server-side CPU (cores) | p99 during ms | p99 after ms | lost | "
            "dup |"
        )
        lines.append("|---" * 15 + "|")
        for scenario, setup, outs in storms:
            st = [o["storm"] for o in outs]

            def cell(key: str, st: list[dict[str, Any]] = st, n: int = len(outs)) -> str:
                return fmt(med([x.get(key) for x in st]), n)

            failed = sum(sum(x.get("failed_attempts", {}).values()) for x in st)
            lines.append(
                f"| {scenario} | {setup} | {len(outs)} | {st[0]['members']} | "
                f"{cell('resumed')} | {cell('resumed_50pct_after_up_s')} | "
                f"{cell('resumed_99pct_after_up_s')} | {cell('resumed_100pct_after_up_s')} | "
                f"{cell('down_to_up_s')} | {failed} | {cell('server_side_cpu_share')} | "
                f"{cell('p99_during_ms')} | {cell('p99_after_ms')} | "
                f"{sum(o['lost'] for o in outs)} | {sum(o['duplicates'] for o in outs)} |"
            )
            full = med([x.get("resumed_100pct_after_up_s") for x in st])
            medians.setdefault(scenario, {}).setdefault(setup, {})["all_back_s"] = (
                full[0] if full and all(x["resumed"] >= x["members"] for x in st) else None
            )
    if "S4" in results["runs"]:
        lines.append("\n### S4 idle connections\n")
        lines.append("| server | reps | connections | KiB/connection | Redis KiB/conn | conn/s |")
        lines.append("|---|---|---|---|---|---|")
        for setup, outs in results["runs"]["S4"].items():
            kib = med([o["kib_per_connection"] for o in outs])
            rkib = med([o.get("redis_kib_per_connection") for o in outs])
            rate = med([o.get("per_s") for o in outs])
            conns = med([o["connections"] for o in outs])
            lines.append(
                f"| {setup} | {len(outs)} | {fmt(conns, 1)} | {fmt(kib, len(outs))} | "
                f"{fmt(rkib, len(outs))} | {fmt(rate, len(outs))} |"
            )
            if kib:
                medians.setdefault("S4", {}).setdefault(setup, {})["kib"] = kib[0]
    if results.get("connect"):
        lines.append("\n### Opening the fleet (G x M connections, RSS growth of the servers)\n")
        lines.append("| server | connected | of | seconds | conn/s | KiB/connection | failures |")
        lines.append("|---|---|---|---|---|---|---|")
        for setup, c in results["connect"].items():
            lines.append(
                f"| {setup} | {c['connections']} | {c['wanted']} | {c['seconds']} | "
                f"{c['per_s']} | {c['kib_per_connection']} | {c['failures'] or ''} |"
            )
        haven = results["connect"].get("haven")
        if haven and "haven" not in medians.get("S4", {}):
            medians.setdefault("S4", {})["haven"] = {"kib": haven["kib_per_connection"]}
    return "\n".join(lines), medians


# Scenarios whose every window must deliver something (S3 sends only from the host).
DELIVERING = ("S1", "S2", "S3", "S5", "S6", "S7")


def invalid_reasons(results: dict[str, Any]) -> list[str]:
    """Why the run proves nothing, if it does not: a fleet that did not fully connect, a
    scenario window that delivered nothing, a storm after which not everyone came back.

    A run with any reason fails (non-zero exit) and reports no target as met (issue 20: a
    fleet refused with 4401 once printed "zero loss and duplicates: MET").
    """
    reasons: list[str] = []
    for setup, c in results.get("connect", {}).items():
        if c["connections"] < c["wanted"]:
            reasons.append(
                f"fleet {setup}: {c['connections']} of {c['wanted']} connected "
                f"(failures {c.get('failures') or {}})"
            )
    for scenario, per_setup in results.get("runs", {}).items():
        for setup, outs in per_setup.items():
            for rep, out in enumerate(outs, 1):
                if scenario == "S4":
                    if out["connections"] < out["wanted"]:
                        reasons.append(
                            f"S4 {setup} rep {rep}: {out['connections']} of {out['wanted']} "
                            "idle connections opened"
                        )
                    continue
                if scenario.startswith(DELIVERING) and not out.get("deliveries"):
                    reasons.append(f"{scenario} {setup} rep {rep}: delivered nothing")
                storm = out.get("storm")
                if storm and storm["resumed"] < storm["members"] and setup.startswith("haven"):
                    reasons.append(
                        f"{scenario} {setup} rep {rep}: {storm['resumed']} of "
                        f"{storm['members']} members back and resumed"
                    )
    return reasons


def verdict(ok: bool, invalid: bool) -> str:
    """MET only for a valid run; an invalid one meets nothing."""
    if invalid:
        return "NOT MET (invalid run)"
    return "MET" if ok else "NOT MET"


def targets(results: dict[str, Any], medians: dict[str, Any], invalid: bool = False) -> list[str]:
    out: list[str] = []
    bad = []
    measured = 0
    for scenario, per_setup in results["runs"].items():
        for setup, outs in per_setup.items():
            if setup.startswith("haven") and scenario != "S4":
                measured += len(outs)
                lost = sum(o.get("lost", 0) for o in outs)
                dups = sum(o.get("duplicates", 0) for o in outs)
                if lost or dups:
                    bad.append(f"{scenario}: {lost} lost, {dups} duplicated")
    if bad:
        zero = "NOT MET (" + "; ".join(bad) + ")"
    elif not measured:
        zero = "NOT MET (no Haven scenario ran)"  # nothing delivered proves nothing
    else:
        zero = verdict(True, invalid)
    out.append("- zero loss and duplicates (Haven, every scenario): " + zero)
    p99 = medians.get("S1", {}).get("haven", {}).get("p99_ms")
    if p99 is not None:
        out.append(f"- S1 p99 <= 20 ms: {verdict(p99 <= 20, invalid)} ({p99:.1f} ms)")
    s2 = medians.get("S2", {})
    haven, naive, raw = s2.get("haven", {}), s2.get("naive", {}), s2.get("raw", {})
    if haven.get("deliveries_per_s") and naive.get("deliveries_per_s"):
        r = haven["deliveries_per_s"] / naive["deliveries_per_s"]
        out.append(f"- S2 deliveries/s >= 1.5x naive: {verdict(r >= 1.5, invalid)} (x{r:.2f})")
    if haven.get("server_side_us") and raw.get("server_us"):
        r = haven["server_side_us"] / raw["server_us"]
        out.append(
            f"- S2 server CPU/delivery <= 25x raw: {verdict(r <= 25, invalid)} "
            f"(x{r:.1f}: {haven['server_side_us']:.0f} vs {raw['server_us']:.1f} µs; "
            f"Daphne alone x{haven['server_us'] / raw['server_us']:.1f})"
        )
    for scenario, limit in (("S7", 10.0), ("S7b", 6.0)):
        per = medians.get(scenario, {})
        for setup in [s for s in per if s.startswith("haven")]:
            back = per[setup].get("all_back_s")
            ok = back is not None and back <= limit
            out.append(
                f"- {scenario} every member back and resumed within {limit:g} s of the server "
                f"accepting: {verdict(ok, invalid)} "
                + (f"({back:.1f} s, median)" if back is not None else "(not everyone came back)")
            )
    kib = medians.get("S4", {}).get("haven", {}).get("kib")
    if kib is not None:
        out.append(f"- S4 RSS per idle connection <= 64 KiB: {verdict(kib <= 64, invalid)}")
        out[-1] += f" ({kib:.0f} KiB)"
    return out


async def main_async(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    budget = Budget(cfg.budget)
    data = await asyncio.to_thread(
        seed.ensure_seed,
        groups=max(cfg.groups, args.seed_groups),
        members=cfg.members,
        out=VAR / "seed.json",
        database_url=args.database_url,
        var_dir=VAR,
        log=log,
    )
    results: dict[str, Any] = {
        "config": cfg.__dict__,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "haven_commit": git_commit(),
        "heartbeat_seconds": args.heartbeat,
        "connect": {},
        "runs": {},
        "skipped": [],
    }
    only = set(args.only.split(",")) if args.only else None
    servers = args.servers.split(",")

    def want(s: str) -> bool:
        return only is None or s in only

    # Order: a restarted Redis (S6) has forgotten the naive server's groups for good, so S6
    # comes last there. Haven rejoins its groups after S6, but a burst (S3) leaves it minutes
    # of queued sends and churn (S5) a reconnection backlog, so those two come last for Haven.
    # S7 restarts the server process, which rejoins the naive server's groups: before S6.
    fleet = tuple(s for s in ("S1", "S2", "S3", "S5", "S7", "S6") if want(s))
    for kind in ("raw", "naive"):
        if kind in servers and fleet:
            await fleet_run(kind, data, cfg, args, results, budget, scenarios=fleet)
    if "naive" in servers and want("S7b"):
        await fleet_run("naive", data, cfg, args, results, budget, processes=2, scenarios=("S7b",))
    if want("S4"):
        for kind in ("raw", "naive"):
            if kind in servers:
                await s4_run(kind, data, cfg, args, results, budget)
    if "haven" in servers and fleet:
        await fleet_run(
            "haven",
            data,
            cfg,
            args,
            results,
            budget,
            scenarios=tuple(s for s in ("S1", "S2", "S6", "S7", "S3", "S5") if s in fleet),
            profile=want("S2") and args.profile,
        )
    two = tuple(s for s in ("S2", "S7b") if want(s))  # S7b kills one of the two: last
    if "haven" in servers and two:
        await fleet_run("haven", data, cfg, args, results, budget, processes=2, scenarios=two)
    storms = min(cfg.reps, args.storm_reps)
    for _rep in range(1, storms if "haven" in servers and want("S7b") else 0):
        await fleet_run("haven", data, cfg, args, results, budget, processes=2, scenarios=("S7b",))
    if "haven" in servers and want("S4"):
        # Last, with what the budget leaves (--s4-haven-reps, one by default): 10,000 handshakes
        # with room entry take about 90 s here; every fleet opening also measures the memory.
        await s4_run("haven", data, cfg, args, results, budget)
    results["seconds"] = round(time.monotonic() - budget.start, 1)
    return write_report(results, cfg, args)


def write_report(results: dict[str, Any], cfg: Config, args: argparse.Namespace) -> int:
    """Summarise, judge the targets, write var/bench/results-*; the exit code (1: invalid)."""
    table, medians = summarise(results)
    results["medians"] = medians
    results["invalid"] = invalid_reasons(results)
    results["targets"] = targets(results, medians, invalid=bool(results["invalid"]))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "quick" if cfg.quick else "full"
    (VAR / f"results-{name}-{stamp}.json").write_text(json.dumps(results, indent=1))
    report = [
        f"# Benchmark {name} run {results['started']} ({results['seconds']} s)",
        f"G={cfg.groups} x M={cfg.members}, {cfg.reps} repetition(s); medians (min-max); "
        f"Haven at {results['haven_commit']}, HAVEN_HEARTBEAT_SECONDS={args.heartbeat:g}.",
        table,
        "\n## Targets\n",
        *results["targets"],
    ]
    if "profile" in results:
        prof = results["profile"]
        report.append("\n## Profile (py-spy, Haven Daphne during S2)\n")
        if "error" in prof:
            report.append(prof["error"])
        else:
            report.append(f"{prof['samples']} samples in {prof['file']}\n")
            for title, key in (
                ("threads", "threads_pct"),
                ("top frames, self", "self_pct"),
                ("app functions, inclusive", "app_inclusive_pct"),
            ):
                report.append(f"{title}:")
                report += [f"- {pct} % {frame}" for frame, pct in prof[key][:12]]
    if results["skipped"]:
        report.append(f"\nSkipped (time budget): {results['skipped']}")
    if results["invalid"]:
        report.append("\n## BENCH FAILED: this run proves nothing\n")
        report += [f"- {reason}" for reason in results["invalid"]]
    text = "\n".join(report)
    (VAR / f"results-{name}.md").write_text(text + "\n")
    print(text, flush=True)
    log(f"results in {VAR / f'results-{name}-{stamp}.json'} and results-{name}.md")
    for reason in results["invalid"]:
        print(f"BENCH FAILED: {reason}", file=sys.stderr, flush=True)
    return 1 if results["invalid"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Haven load benchmark (docs/performance.md)")
    parser.add_argument("--quick", action="store_true", help="smaller and once: a smoke run")
    parser.add_argument("--groups", type=int, default=0)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--seed-groups", type=int, default=200, help="groups seeded (reused)")
    parser.add_argument("--reps", type=int, default=0)
    parser.add_argument(
        "--s4-haven-reps",
        type=int,
        default=1,
        help="S4 runs for Haven (10,000 connections each, after everything else)",
    )
    parser.add_argument(
        "--reference-churn-reps",
        type=int,
        default=1,
        help="repetitions of S5/S6 for the naive server (it has no log: loss by design)",
    )
    parser.add_argument(
        "--storm-reps",
        type=int,
        default=1,
        help="restart storms (S7, S7b) per run for Haven; three full runs give three",
    )
    parser.add_argument("--connect-deadline", type=float, default=0)
    parser.add_argument("--s4-connections", type=int, default=0)
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=20.0,
        help="HAVEN_HEARTBEAT_SECONDS (default: the server's)",
    )
    parser.add_argument("--budget", type=float, default=0, help="seconds before skipping")
    parser.add_argument("--servers", default="raw,naive,haven")
    parser.add_argument("--only", default="", help="scenarios, e.g. S1,S2")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--database-url", default=seed.DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    VAR.mkdir(parents=True, exist_ok=True)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main_async(args))
    return uvloop.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
