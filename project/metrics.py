"""Prometheus metrics (issue 19): what an operator watches, counted where it happens.

The metrics are defined here, once, in Haven's own registry, and the code at each chokepoint
adds to them (a counter's `inc()` is all the hot path pays): the live room's connections and
deliveries (facilitation/delivery.py), messages posted (facilitation/services/messages.py),
channel-layer failures (project/realtime.py and delivery), event-loop stalls (project/serve.py),
database pool use (sampled, `sample`). Numbers computed from the database at scrape time
(concern counts) are collectors of the apps above this one, named in `SCRAPE_COLLECTORS` and
imported by name, as Django imports middleware.

Labels are only ever one of a few fixed words (`LABEL_VALUES`): never a group, a session, a
member or any text. With several Daphne processes each writes into PROMETHEUS_MULTIPROC_DIR and
a scrape of any one adds them up (prometheus_client's multi-process mode; the open-connection
gauge counts live processes only). `/metrics` answers 404 unless HAVEN_METRICS is on, and then
only to loopback or to a scraper with HAVEN_METRICS_TOKEN.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import re
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

from project import asyncdb

REGISTRY = CollectorRegistry(auto_describe=True)

# The only words a label may hold, by label name: the test of /metrics checks every series.
LABEL_VALUES: dict[str, frozenset[str]] = {
    "operation": frozenset({"send", "receive", "join", "leave"}),
    "kind": frozenset({"event_loop", "gc"}),
    "pool": frozenset({"threads", "event_loop"}),
    "stat": frozenset({"pool_max", "pool_size", "pool_available", "requests_waiting"}),
    # safeguarding/metrics.py: a concern's status (safeguarding.models.ConcernStatus).
    "status": frozenset({"received", "acknowledged", "escalated", "action_taken", "closed"}),
}

WEBSOCKETS = Gauge(
    "haven_websocket_connections",
    "Live-room WebSocket connections open now (in the room, past session.state).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
MESSAGES_POSTED = Counter(
    "haven_messages_posted", "Messages stored from the live room.", registry=REGISTRY
)
DELIVERIES = Counter(
    "haven_deliveries",
    "Broadcast events forwarded to a live-room connection.",
    registry=REGISTRY,
)
HEARTBEAT_FILLS = Counter(
    "haven_heartbeat_fills",
    "Times the heartbeat filled a connection from the session log (a broadcast was lost).",
    registry=REGISTRY,
)
LAYER_FAILURES = Counter(
    "haven_channel_layer_failures",
    "Channel-layer (Redis) calls that failed; the session log covers what they lost.",
    ["operation"],
    registry=REGISTRY,
)
STALLS = Counter(
    "haven_event_loop_stalls",
    "Event-loop stalls and garbage collections of STALL_MS (100) ms or more.",
    ["kind"],
    registry=REGISTRY,
)
DB_POOL = Gauge(
    "haven_db_pool",
    "Database connection pools (psycopg-pool on PostgreSQL): size, idle, limit and waiters.",
    ["pool", "stat"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
# A stall this long (ms) is counted (HAVEN_STALL_LOG_MS only decides what is logged).
STALL_MS = 100.0

for _operation in LABEL_VALUES["operation"]:
    LAYER_FAILURES.labels(_operation)
for _kind in LABEL_VALUES["kind"]:
    STALLS.labels(_kind)

# Numbers read from the database when scraped; each class's `collect()` yields metric families.
SCRAPE_COLLECTORS = ("safeguarding.metrics.ConcernCollector",)


def layer_failed(operation: str) -> None:
    LAYER_FAILURES.labels(operation).inc()


# Stalls seen but not yet added to `STALLS`. `stalled` runs inside the garbage collector's
# callback, which may fire while this thread holds prometheus_client's (non-reentrant) lock in
# the middle of an `inc()`: it must take no lock, so it only adds to this plain dict, and
# `sample` moves the numbers into the counter.
_stalls_seen = dict.fromkeys(LABEL_VALUES["kind"], 0)
_stalls_lock = threading.Lock()


def stalled(kind: str) -> None:
    """An event-loop stall or a garbage collection (`project.serve.watch_stalls`' kinds)."""
    _stalls_seen["gc" if kind.startswith("gc") else "event_loop"] += 1


def _count_stalls() -> None:
    with _stalls_lock:
        for kind, seen in list(_stalls_seen.items()):
            if seen:
                _stalls_seen[kind] -= seen
                STALLS.labels(kind).inc(seen)


def _django_pool() -> Any:
    """The process's psycopg-pool of the default database, if one was opened (never opens one)."""
    connection = connections["default"]
    pools = getattr(type(connection), "_connection_pools", None)
    return pools.get(connection.alias) if isinstance(pools, dict) else None


def sample() -> None:
    """Copy this process's stalls and pool numbers into the metrics (the serve loop does so
    every few seconds, a scrape for its own process)."""
    _count_stalls()
    samples = {"event_loop": asyncdb.stats()}
    pool = _django_pool()
    if pool is not None:
        samples["threads"] = pool.get_stats()
    for name, stats in samples.items():
        if not stats:
            continue
        for stat in LABEL_VALUES["stat"]:
            DB_POOL.labels(name, stat).set(stats.get(stat, 0))


_PID_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def forget_dead_processes() -> None:
    """Remove the live gauges of processes that are gone (a crash skips `process_exit`), so
    open connections are not counted for a process that no longer runs."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    for path in Path(folder).iterdir():
        found = _PID_FILE.match(path.name)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        except PermissionError:
            continue


def process_exit() -> None:
    """A Daphne process stops: its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's numbers (or this one's) and the database's."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(REGISTRY)
    for path in SCRAPE_COLLECTORS:
        scrape.register(import_string(path)())
    return scrape


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _may_scrape(request: HttpRequest) -> bool:
    token = settings.HAVEN_METRICS_TOKEN
    if not token:
        return _loopback(request.META.get("REMOTE_ADDR"))
    given = request.headers.get("Authorization", "")
    scheme, _space, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format; 404 when metrics are off or the scraper may not read them."""
    if not settings.HAVEN_METRICS or not _may_scrape(request):
        raise Http404()
    sample()
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
